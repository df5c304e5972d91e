//! The mock governance server's objects and what the OpenPages v2 subset does with
//! them: queries, contents reads and writes, with enum validation of the status field.
//! Over 500 lines because a query runs here, against the objects and their index of
//! modification dates (the statement's grammar is in `query.rs`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::query::{self, Compare, Query};

/// The largest `limit` a query accepts.
pub const MAX_LIMIT: u64 = 100_000;

/// An OpenPages-style error: HTTP status and a message with an `OP-NNNNN` code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    /// HTTP status.
    pub status: u16,
    /// The message, starting with its code.
    pub message: String,
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.message)
    }
}

impl OpError {
    fn bad_request(code: &str, message: impl std::fmt::Display) -> OpError {
        OpError {
            status: 400,
            message: format!("{code}: {message}"),
        }
    }

    fn not_found(id: &str) -> OpError {
        OpError {
            status: 404,
            message: format!("OP-00404: The object with ID '{id}' does not exist."),
        }
    }
}

/// The object type and its fields: which is the enum status field and what values
/// the workflow allows, and which are plain strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectType {
    /// The object type (`Model`).
    pub model_type: String,
    /// The enum status field (`MRG-Model:Status`).
    pub status_field: String,
    /// The statuses the workflow allows.
    pub statuses: Vec<String>,
    /// Plain string fields (the link field among them).
    pub string_fields: Vec<String>,
    /// The status field is a plain string field, not an enum (as some customised
    /// installations have it): no workflow values, and enum-shaped writes refused.
    #[serde(default)]
    pub status_is_string: bool,
    /// `[Last Modification Date]` is compared only with date literals
    /// (`'YYYY-MM-DD'`), as some deployments have it: a timestamp literal is refused
    /// with a 400 whose message names the value.
    #[serde(default)]
    pub date_literals_only: bool,
    /// Fields a model must be created with (besides `Name`), shown `required` in the
    /// type definition: a create without them is refused.
    #[serde(default)]
    pub required_fields: Vec<String>,
}

/// One object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// Resource ID.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Field values by name (the status as its enum value's name).
    pub fields: BTreeMap<String, String>,
    /// The object it was created under (`primary_parent_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// Every object, persisted as JSON when the mock has a state file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Objects {
    objects: BTreeMap<u64, Object>,
    next_id: u64,
    /// Rows appended verbatim to every query's results (admin), to test how a client
    /// copes with malformed rows. Not persisted.
    #[serde(skip)]
    injected_rows: Vec<Value>,
    /// (`Last Modification Date`, ID) of every object: a query for what changed
    /// since a time reads only those. Rebuilt on load ([`Objects::reindex`]).
    #[serde(skip)]
    by_modified: BTreeSet<(String, u64)>,
    /// Objects changed since [`Objects::take_changed`] last drained them (what the
    /// state file logs).
    #[serde(skip)]
    changed: Vec<u64>,
}

/// A field in a request body: `{"name": …, "value": …}`.
#[derive(Debug, Deserialize)]
struct FieldIn {
    name: String,
    #[serde(default)]
    value: Value,
}

/// The system field OpenPages keeps on every change; read-only, queryable with
/// `=`, `>`, `>=`, `<`, `<=`.
pub const LAST_MODIFIED: &str = "Last Modification Date";

/// Now, as the mock writes `Last Modification Date` (RFC 3339, UTC, milliseconds).
fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// A time as the mock writes `Last Modification Date`, so that the index (ordered
/// as text) can be searched with it; `None` if `value` is not a time.
fn normalized_time(value: &str) -> Option<String> {
    let time = humantime::parse_rfc3339_weak(value.trim_end_matches('Z')).ok()?;
    Some(humantime::format_rfc3339_millis(time).to_string())
}

/// `YYYY-MM-DD`, and nothing more.
fn is_date_literal(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// A field's value against a condition's: dates as times, everything else as text.
fn ordering(field: &str, value: &str, against: &str) -> std::cmp::Ordering {
    if field == LAST_MODIFIED {
        let time = |t: &str| humantime::parse_rfc3339_weak(t.trim_end_matches('Z')).ok();
        if let (Some(a), Some(b)) = (time(value), time(against)) {
            return a.cmp(&b);
        }
    }
    value.cmp(against)
}

impl ObjectType {
    fn is_field(&self, name: &str) -> bool {
        name == "Resource ID"
            || name == "Name"
            || name == LAST_MODIFIED
            || name == self.status_field
            || self.string_fields.iter().any(|f| f == name)
    }

    fn check_type(&self, type_name: &str) -> Result<(), OpError> {
        if type_name == self.model_type {
            Ok(())
        } else {
            Err(OpError::bad_request(
                "OP-01010",
                format!("The object type '{type_name}' does not exist."),
            ))
        }
    }

    fn check_field(&self, name: &str) -> Result<(), OpError> {
        if self.is_field(name) {
            Ok(())
        } else {
            Err(OpError::bad_request(
                "OP-01004",
                format!(
                    "The field '{name}' is not defined for the object type '{}'.",
                    self.model_type
                ),
            ))
        }
    }

    /// Validates a status value as the workflow would.
    pub fn check_status(&self, status: &str) -> Result<(), OpError> {
        if self.statuses.iter().any(|s| s == status) {
            Ok(())
        } else {
            Err(OpError::bad_request(
                "OP-10253",
                format!(
                    "'{status}' is not a valid value of the enumerated field '{}'. Valid values: {}.",
                    self.status_field,
                    self.statuses.join(", ")
                ),
            ))
        }
    }

    /// A field value as OpenPages shows it (enum values as objects).
    fn show(&self, object: &Object, field: &str) -> Value {
        match field {
            "Resource ID" => json!(object.id.to_string()),
            "Name" => json!(object.name),
            f if f == self.status_field && !self.status_is_string => object
                .fields
                .get(f)
                .map_or(Value::Null, |s| json!({ "name": s, "localized_label": s })),
            f => object.fields.get(f).map_or(Value::Null, |s| json!(s)),
        }
    }

    fn data_type(&self, field: &str) -> &'static str {
        if field == self.status_field && !self.status_is_string {
            "ENUM_TYPE"
        } else if field == LAST_MODIFIED {
            "DATE_TYPE"
        } else {
            "STRING_TYPE"
        }
    }

    /// The type definition, as `GET /types/{type}` returns it.
    pub fn definition(&self) -> Value {
        let field = |name: &str, data_type: &str, required: bool, read_only: bool| {
            json!({ "name": name, "localized_label": name, "data_type": data_type,
                    "required": required, "read_only": read_only })
        };
        let mut fields = vec![
            field("Resource ID", "ID_TYPE", true, true),
            field("Name", "STRING_TYPE", true, false),
            field(LAST_MODIFIED, "DATE_TYPE", false, true),
        ];
        let required = |name: &str| self.required_fields.iter().any(|r| r == name);
        let mut status = field(
            &self.status_field,
            self.data_type(&self.status_field),
            required(&self.status_field),
            false,
        );
        if !self.status_is_string {
            status["enum_values"] = self
                .statuses
                .iter()
                .map(|s| json!({ "name": s, "localized_label": s }))
                .collect();
        }
        fields.push(status);
        fields.extend(
            self.string_fields
                .iter()
                .map(|f| field(f, "STRING_TYPE", required(f), false)),
        );
        json!({ "name": self.model_type, "localized_label": self.model_type, "field_definitions": fields })
    }

    /// A contents object as `GET /contents/{id}` returns it.
    pub fn object_json(&self, object: &Object) -> Value {
        let fields: Vec<Value> = std::iter::once(&self.status_field)
            .chain(&self.string_fields)
            .map(|f| json!({ "name": f, "data_type": self.data_type(f), "value": self.show(object, f) }))
            .collect();
        json!({
            "id": object.id.to_string(),
            "name": object.name,
            "type_definition_id": self.model_type,
            "primary_parent_id": object.parent,
            "fields": fields,
        })
    }

    /// Applies `{"name", "value"}` fields to `object`, all or none.
    fn apply_fields(&self, object: &mut Object, fields: Vec<FieldIn>) -> Result<(), OpError> {
        let mut updated = object.clone();
        for f in fields {
            self.check_field(&f.name)?;
            if f.name == "Resource ID" || f.name == LAST_MODIFIED {
                return Err(OpError::bad_request(
                    "OP-01020",
                    format!("The field '{}' is read-only.", f.name),
                ));
            }
            let is_enum = f.name == self.status_field && !self.status_is_string;
            let text = match (&f.value, is_enum) {
                (Value::Null, _) => None,
                (Value::Object(o), true) => match o.get("name") {
                    Some(Value::String(s)) => Some(s.clone()),
                    _ => {
                        return Err(OpError::bad_request(
                            "OP-10252",
                            format!("An enum value of '{}' needs a \"name\".", f.name),
                        ));
                    }
                },
                (Value::String(s), _) => Some(s.clone()),
                (other, _) => {
                    return Err(OpError::bad_request(
                        "OP-10251",
                        format!("The value {other} is not valid for the field '{}'.", f.name),
                    ));
                }
            };
            if is_enum && let Some(s) = &text {
                self.check_status(s)?;
            }
            match (f.name.as_str(), text) {
                ("Name", Some(n)) => updated.name = n,
                ("Name", None) => {
                    return Err(OpError::bad_request(
                        "OP-01021",
                        "The field 'Name' is required.",
                    ));
                }
                (name, Some(v)) => {
                    updated.fields.insert(name.to_string(), v);
                }
                (name, None) => {
                    updated.fields.remove(name);
                }
            }
        }
        *object = updated;
        Ok(())
    }
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: Value) -> Result<T, OpError> {
    serde_json::from_value(body).map_err(|e| {
        OpError::bad_request("OP-00400", format!("The request body is not valid: {e}"))
    })
}

impl Objects {
    /// Every object, by ID.
    pub fn all(&self) -> impl Iterator<Item = &Object> {
        self.objects.values()
    }

    /// The object with this ID.
    pub fn get(&self, id: &str) -> Result<&Object, OpError> {
        id.parse::<u64>()
            .ok()
            .and_then(|n| self.objects.get(&n))
            .ok_or_else(|| OpError::not_found(id))
    }

    /// `POST /query`: `{"statement", "offset", "limit"}` → `{"rows": […]}`.
    pub fn query(&self, object_type: &ObjectType, body: Value) -> Result<Value, OpError> {
        #[derive(Deserialize)]
        struct In {
            statement: String,
            #[serde(default)]
            offset: u64,
            limit: Option<u64>,
        }
        let i: In = parse_body(body)?;
        let Query {
            fields,
            from,
            conditions,
            order,
        } = query::parse(&i.statement).map_err(|e| {
            OpError::bad_request("OP-00210", format!("The query is not valid: {e}"))
        })?;
        object_type.check_type(&from)?;
        if object_type.date_literals_only
            && let Some((_, _, value)) = conditions
                .iter()
                .find(|(f, _, v)| f == LAST_MODIFIED && !is_date_literal(v))
        {
            return Err(OpError::bad_request(
                "OP-00213",
                format!(
                    "The value '{value}' of [{LAST_MODIFIED}] is not a valid date; write it as 'YYYY-MM-DD'"
                ),
            ));
        }
        for f in fields
            .iter()
            .chain(conditions.iter().map(|(f, _, _)| f))
            .chain(order.iter().map(|(f, _)| f))
        {
            object_type.check_field(f)?;
        }
        let limit = i.limit.unwrap_or(50);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(OpError::bad_request(
                "OP-00211",
                format!("limit {limit} is not between 1 and {MAX_LIMIT}"),
            ));
        }
        let holds = |o: &Object, (f, op, v): &(String, Compare, String)| {
            let shown = object_type.show(o, f);
            let text = shown
                .as_str()
                .or_else(|| shown.get("name").and_then(Value::as_str));
            text.is_some_and(|t| op.holds(ordering(f, t, v)))
        };
        // Candidates: with `[Last Modification Date] >` (or `>=`) only the objects
        // changed since (from the index), else all of them in ID order.
        let since = conditions.iter().find_map(|(f, op, v)| {
            (f == LAST_MODIFIED && matches!(op, Compare::Greater | Compare::GreaterOrEqual))
                .then(|| normalized_time(v))
                .flatten()
        });
        let candidates: Box<dyn Iterator<Item = &Object>> = match &since {
            Some(since) => Box::new(
                self.by_modified
                    .range((since.clone(), 0)..)
                    .filter_map(|(_, id)| self.objects.get(id)),
            ),
            None => Box::new(self.objects.values()),
        };
        let matching = candidates.filter(|o| conditions.iter().all(|c| holds(o, c)));
        // In ID order already (no index, and no order or `ORDER BY [Resource ID] ASC`):
        // read lazily, so a page costs the rows skipped and the page, not the sort.
        let id_order = since.is_none()
            && order
                .as_ref()
                .is_none_or(|(f, descending)| f == "Resource ID" && !descending);
        let mut sorted: Vec<&Object>;
        let matching: Box<dyn Iterator<Item = &Object>> = if id_order {
            Box::new(matching)
        } else {
            sorted = matching.collect();
            match &order {
                Some((field, descending)) => {
                    let key = |o: &Object| match field.as_str() {
                        "Resource ID" => format!("{:020}", o.id),
                        f => {
                            let v = object_type.show(o, f);
                            v.get("name")
                                .or(Some(&v))
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string()
                        }
                    };
                    sorted.sort_by_cached_key(|o| key(o));
                    if *descending {
                        sorted.reverse();
                    }
                }
                None => sorted.sort_by_key(|o| o.id),
            }
            Box::new(sorted.into_iter())
        };
        let (offset, limit) = (i.offset as usize, limit as usize);
        let mut seen = 0;
        let mut page: Vec<&Object> = Vec::new();
        for o in matching {
            if page.len() == limit {
                break;
            }
            if seen >= offset {
                page.push(o);
            }
            seen += 1;
        }
        let row = |o: &Object| {
            let fields: Vec<Value> = fields
                .iter()
                .map(|f| json!({ "name": f, "data_type": object_type.data_type(f), "value": object_type.show(o, f) }))
                .collect();
            json!({ "fields": fields })
        };
        let mut rows: Vec<Value> = page.into_iter().map(row).collect();
        // The injected rows come after every real one.
        if rows.len() < limit {
            rows.extend(
                self.injected_rows
                    .iter()
                    .skip(offset.saturating_sub(seen))
                    .take(limit - rows.len())
                    .cloned(),
            );
        }
        Ok(json!({ "rows": rows }))
    }

    /// `POST /contents`: creates an object.
    pub fn create(&mut self, object_type: &ObjectType, body: Value) -> Result<Value, OpError> {
        #[derive(Deserialize)]
        struct In {
            name: String,
            type_definition_id: String,
            primary_parent_id: Option<String>,
            #[serde(default)]
            fields: Vec<FieldIn>,
        }
        let i: In = parse_body(body)?;
        object_type.check_type(&i.type_definition_id)?;
        if i.name.trim().is_empty() {
            return Err(OpError::bad_request(
                "OP-01021",
                "The field 'Name' is required.",
            ));
        }
        if let Some(missing) = object_type
            .required_fields
            .iter()
            .find(|r| !i.fields.iter().any(|f| &f.name == *r && !f.value.is_null()))
        {
            return Err(OpError::bad_request(
                "OP-01021",
                format!("The field '{missing}' is required."),
            ));
        }
        self.next_id += 1;
        let mut object = Object {
            id: self.next_id,
            name: i.name,
            fields: BTreeMap::new(),
            parent: i.primary_parent_id,
        };
        object_type.apply_fields(&mut object, i.fields)?;
        let out = object_type.object_json(&object);
        let id = object.id;
        self.objects.insert(id, object);
        self.touch(id);
        Ok(out)
    }

    /// `PUT /contents/{id}`: sets the given fields.
    pub fn update(
        &mut self,
        object_type: &ObjectType,
        id: &str,
        body: Value,
    ) -> Result<Value, OpError> {
        #[derive(Deserialize)]
        struct In {
            #[serde(default)]
            fields: Vec<FieldIn>,
        }
        self.get(id)?;
        let i: In = parse_body(body)?;
        let key = id.parse::<u64>().expect("found above");
        let object = self.objects.get_mut(&key).expect("found above");
        object_type.apply_fields(object, i.fields)?;
        self.touch(key);
        Ok(object_type.object_json(&self.objects[&key]))
    }

    /// Admin: sets a status as a person in the console would (only workflow statuses).
    pub fn set_status(
        &mut self,
        object_type: &ObjectType,
        id: &str,
        status: &str,
    ) -> Result<(), OpError> {
        object_type.check_status(status)?;
        self.get(id)?;
        let key = id.parse::<u64>().expect("found above");
        let object = self.objects.get_mut(&key).expect("found above");
        object
            .fields
            .insert(object_type.status_field.clone(), status.to_string());
        self.touch(key);
        Ok(())
    }

    /// Stamps an object's `Last Modification Date` with now, and notes it changed.
    fn touch(&mut self, id: u64) {
        let object = self.objects.get_mut(&id).expect("touched objects exist");
        if let Some(old) = object.fields.insert(LAST_MODIFIED.into(), now()) {
            self.by_modified.remove(&(old, id));
        }
        self.by_modified
            .insert((object.fields[LAST_MODIFIED].clone(), id));
        self.changed.push(id);
    }

    /// The objects changed since the last call, as they are now (for the state
    /// file's log).
    pub fn take_changed(&mut self) -> Vec<Object> {
        let mut ids = std::mem::take(&mut self.changed);
        ids.dedup();
        ids.iter()
            .filter_map(|id| self.objects.get(id).cloned())
            .collect()
    }

    /// Puts back an object as the state file's log recorded it.
    pub fn replay(&mut self, object: Object) {
        self.next_id = self.next_id.max(object.id);
        if let Some(t) = object.fields.get(LAST_MODIFIED) {
            self.by_modified.insert((t.clone(), object.id));
        }
        if let Some(old) = self.objects.insert(object.id, object)
            && let Some(t) = old.fields.get(LAST_MODIFIED)
            && Some(t) != self.objects[&old.id].fields.get(LAST_MODIFIED)
        {
            self.by_modified.remove(&(t.clone(), old.id));
        }
    }

    /// Moves every object's `Last Modification Date` `seconds` into the past, as if
    /// the objects had been changed that much earlier.
    pub fn age(&mut self, seconds: f64) {
        let by = std::time::Duration::from_secs_f64(seconds.max(0.0));
        for object in self.objects.values_mut() {
            let aged = object
                .fields
                .get(LAST_MODIFIED)
                .and_then(|t| humantime::parse_rfc3339_weak(t.trim_end_matches('Z')).ok())
                .and_then(|t| t.checked_sub(by));
            if let Some(t) = aged {
                object.fields.insert(
                    LAST_MODIFIED.into(),
                    humantime::format_rfc3339_millis(t).to_string(),
                );
                self.changed.push(object.id);
            }
        }
        self.reindex();
    }

    /// Rebuilds the index of modification dates (after loading).
    pub fn reindex(&mut self) {
        self.by_modified = self
            .objects
            .values()
            .filter_map(|o| Some((o.fields.get(LAST_MODIFIED)?.clone(), o.id)))
            .collect();
    }

    /// Admin: appends rows that every query returns verbatim after the real ones.
    pub fn inject_rows(&mut self, rows: Vec<Value>) {
        self.injected_rows.extend(rows);
    }
}
