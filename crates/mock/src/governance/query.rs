//! The OpenPages query statements the mock understands: the subset govsync emits
//! and a person would type to check it.
//!
//! ```text
//! SELECT [f1], [f2], … FROM [Type] [WHERE [f] op 'v' [AND [g] op 'w' …]] [ORDER BY [f] [ASC|DESC]]
//! ```
//!
//! `op` is `=`, `>`, `>=`, `<` or `<=`. Keywords are case-insensitive; names are in
//! brackets; strings in single quotes with `''` for a quote.

/// A comparison in a `WHERE` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// `=`
    Equal,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
}

impl Compare {
    /// Whether `ordering` (of the field's value against the condition's) satisfies it.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Compare::Equal => ordering == Equal,
            Compare::Greater => ordering == Greater,
            Compare::GreaterOrEqual => ordering != Less,
            Compare::Less => ordering == Less,
            Compare::LessOrEqual => ordering != Greater,
        }
    }
}

/// A parsed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The selected fields, in order.
    pub fields: Vec<String>,
    /// The object type.
    pub from: String,
    /// `field op value` conditions, all of which must hold.
    pub conditions: Vec<(String, Compare, String)>,
    /// The ordering field and whether it is descending.
    pub order: Option<(String, bool)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Name(String),
    Text(String),
    Comma,
    Op(Compare),
}

fn tokens(statement: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = statement.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            ',' => out.push(Token::Comma),
            '=' => out.push(Token::Op(Compare::Equal)),
            '>' | '<' => {
                let or_equal = chars.peek().is_some_and(|(_, c)| *c == '=');
                if or_equal {
                    chars.next();
                }
                out.push(Token::Op(match (c, or_equal) {
                    ('>', false) => Compare::Greater,
                    ('>', true) => Compare::GreaterOrEqual,
                    ('<', false) => Compare::Less,
                    _ => Compare::LessOrEqual,
                }));
            }
            '[' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some((_, ']')) => break,
                        Some((_, c)) => name.push(c),
                        None => {
                            return Err(format!(
                                "the bracket at character {} is never closed",
                                at + 1
                            ));
                        }
                    }
                }
                out.push(Token::Name(name));
            }
            '\'' => {
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\'')) if chars.peek().is_some_and(|(_, c)| *c == '\'') => {
                            chars.next();
                            text.push('\'');
                        }
                        Some((_, '\'')) => break,
                        Some((_, c)) => text.push(c),
                        None => {
                            return Err(format!(
                                "the string at character {} is never closed",
                                at + 1
                            ));
                        }
                    }
                }
                out.push(Token::Text(text));
            }
            c if c.is_ascii_alphanumeric() => {
                let mut word = c.to_string();
                while let Some((_, c)) = chars
                    .peek()
                    .copied()
                    .filter(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
                {
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(word.to_ascii_uppercase()));
            }
            other => return Err(format!("unexpected {other:?} at character {}", at + 1)),
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w == word)
    }

    fn word(&mut self, word: &str) -> Result<(), String> {
        match self.next() {
            Some(Token::Word(w)) if w == word => Ok(()),
            other => Err(format!("expected {word}, found {}", show(other.as_ref()))),
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Name(n)) => Ok(n),
            other => Err(format!(
                "expected a [bracketed] name, found {}",
                show(other.as_ref())
            )),
        }
    }
}

fn show(token: Option<&Token>) -> String {
    match token {
        None => "the end of the statement".into(),
        Some(Token::Word(w)) => w.clone(),
        Some(Token::Name(n)) => format!("[{n}]"),
        Some(Token::Text(t)) => format!("'{t}'"),
        Some(Token::Comma) => "','".into(),
        Some(Token::Op(op)) => format!("'{op:?}'"),
    }
}

/// Parses a statement; the error says what was expected where.
pub fn parse(statement: &str) -> Result<Query, String> {
    let mut p = Parser {
        tokens: tokens(statement)?,
        at: 0,
    };
    p.word("SELECT")?;
    let mut fields = vec![p.name()?];
    while p.tokens.get(p.at) == Some(&Token::Comma) {
        p.at += 1;
        fields.push(p.name()?);
    }
    p.word("FROM")?;
    let from = p.name()?;
    let mut conditions = Vec::new();
    if p.peek_word("WHERE") {
        p.at += 1;
        loop {
            let field = p.name()?;
            let op = match p.next() {
                Some(Token::Op(op)) => op,
                other => {
                    return Err(format!(
                        "expected '=', '>', '>=', '<' or '<=', found {}",
                        show(other.as_ref())
                    ));
                }
            };
            let value = match p.next() {
                Some(Token::Text(t)) => t,
                other => {
                    return Err(format!(
                        "expected a 'quoted' value, found {}",
                        show(other.as_ref())
                    ));
                }
            };
            conditions.push((field, op, value));
            if !p.peek_word("AND") {
                break;
            }
            p.at += 1;
        }
    }
    let mut order = None;
    if p.peek_word("ORDER") {
        p.at += 1;
        p.word("BY")?;
        let field = p.name()?;
        let descending = if p.peek_word("DESC") {
            p.at += 1;
            true
        } else {
            if p.peek_word("ASC") {
                p.at += 1;
            }
            false
        };
        order = Some((field, descending));
    }
    if let Some(extra) = p.tokens.get(p.at) {
        return Err(format!(
            "unexpected {} after the statement",
            show(Some(extra))
        ));
    }
    Ok(Query {
        fields,
        from,
        conditions,
        order,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_govsync_emits() {
        let q = parse(
            "SELECT [Resource ID], [Name], [MRG-Model:Status], [Integration:External ID] FROM [Model] \
             ORDER BY [Resource ID] ASC",
        )
        .expect("parses");
        assert_eq!(
            q.fields,
            [
                "Resource ID",
                "Name",
                "MRG-Model:Status",
                "Integration:External ID"
            ]
        );
        assert_eq!(q.from, "Model");
        assert!(q.conditions.is_empty());
        assert_eq!(q.order, Some(("Resource ID".to_string(), false)));
    }

    #[test]
    fn parses_where_with_quotes_and_descending_order() {
        let q = parse("select [Name] from [Model] where [MRG-Model:Status] = 'Bob''s' and [Name] = 'x' order by [Name] desc")
            .expect("parses");
        assert_eq!(
            q.conditions,
            [
                (
                    "MRG-Model:Status".to_string(),
                    Compare::Equal,
                    "Bob's".to_string()
                ),
                ("Name".to_string(), Compare::Equal, "x".to_string())
            ]
        );
        assert_eq!(q.order, Some(("Name".to_string(), true)));
    }

    #[test]
    fn parses_date_comparisons() {
        let q = parse(
            "SELECT [Resource ID] FROM [Model] WHERE [Last Modification Date] >= '2026-11-23T10:00:00Z' \
             AND [Last Modification Date] < '2026-11-24T00:00:00Z'",
        )
        .expect("parses");
        let ops: Vec<Compare> = q.conditions.iter().map(|(_, op, _)| *op).collect();
        assert_eq!(ops, [Compare::GreaterOrEqual, Compare::Less]);
        assert!(Compare::Greater.holds(std::cmp::Ordering::Greater));
        assert!(!Compare::Greater.holds(std::cmp::Ordering::Equal));
        assert!(Compare::LessOrEqual.holds(std::cmp::Ordering::Equal));
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for (statement, why) in [
            (
                "SELECT Name FROM [Model]",
                "expected a [bracketed] name, found NAME",
            ),
            ("SELECT [Name] FROM [Model", "never closed"),
            (
                "SELECT [Name] FROM [Model] WHERE [Name] = 'x",
                "never closed",
            ),
            (
                "SELECT [Name] FROM [Model] WHERE [Name] LIKE 'x'",
                "expected '=', '>', '>=', '<' or '<='",
            ),
            ("SELECT [Name] FROM [Model] LIMIT 5", "unexpected LIMIT"),
            ("DELETE FROM [Model]", "expected SELECT"),
            ("SELECT [Name]; DROP", "unexpected ';'"),
        ] {
            let error = parse(statement).expect_err(statement);
            assert!(error.contains(why), "{statement}: {error}");
        }
    }
}
