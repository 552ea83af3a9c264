//! A condition a model is called with: its unconditional prediction, a concept of its
//! vocabulary with the concept's arguments, or a text prompt. A tagged enum, so that a
//! concept carrying a prompt, or a `null` with arguments, cannot be built, and every model
//! matches on the variant instead of comparing names with `"null"` and `"text"`.
//!
//! In JSON (`docs/plan.md`) a condition is one flat object tagged by `kind`:
//! `{"id": 0, "kind": "null"}`, `{"id": 1, "kind": "concept", "name": "pos", "args": [0.25, 0.5]}`,
//! `{"id": 2, "kind": "text", "text": "a red cube"}`, each with `"model": ALIAS` in a plan of
//! several models. Read through [`Wire`], which refuses unknown fields and fields of another kind.

use serde::{Deserialize, Serialize};

/// One unique condition of a sample plan; `id` is its index in `SamplePlan::conditions`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Wire", into = "Wire")]
pub struct Condition {
    pub id: usize,
    /// With several models, the script's name of the model this condition is evaluated by
    /// (a key of `SamplePlan::models`); `None` in a plan of one model.
    pub model: Option<String>,
    pub kind: ConditionKind,
}

/// What the model is asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum ConditionKind {
    /// The model's unconditional prediction (`null` in a script).
    Null,
    /// A concept of the model; `args` in the concept's positional order, defaults filled in.
    Concept { name: String, args: Vec<f64> },
    /// A text prompt, for models that read text.
    Text { text: String },
}

impl Condition {
    pub fn null(id: usize) -> Self {
        Condition { id, model: None, kind: ConditionKind::Null }
    }

    pub fn concept(id: usize, name: impl Into<String>, args: Vec<f64>) -> Self {
        Condition { id, model: None, kind: ConditionKind::Concept { name: name.into(), args } }
    }

    pub fn text(id: usize, text: impl Into<String>) -> Self {
        Condition { id, model: None, kind: ConditionKind::Text { text: text.into() } }
    }

    /// The same condition, evaluated by the model the script calls `alias`.
    pub fn of_model(self, alias: Option<String>) -> Self {
        Condition { model: alias, ..self }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, ConditionKind::Null)
    }

    /// A concept's name and arguments; `None` for `null` and text prompts.
    pub fn as_concept(&self) -> Option<(&str, &[f64])> {
        match &self.kind {
            ConditionKind::Concept { name, args } => Some((name, args)),
            _ => None,
        }
    }
}

/// A condition as a script writes it: `ring`, `pos(0.25, 0.5)`, `"a red cube"`, `null`, with
/// `alias.` in front when it names its model (for `comp plan`, picture titles and errors).
impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(m) = &self.model {
            write!(f, "{m}.")?;
        }
        match &self.kind {
            ConditionKind::Null => f.write_str("null"),
            ConditionKind::Text { text } => write!(f, "{text:?}"),
            ConditionKind::Concept { name, args } if args.is_empty() => f.write_str(name),
            ConditionKind::Concept { name, args } => {
                let args: Vec<String> = args.iter().map(f64::to_string).collect();
                write!(f, "{name}({})", args.join(", "))
            }
        }
    }
}

/// The JSON object: every field of every kind, checked against its `kind` on the way in.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    id: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<Tag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    args: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    /// Version 1's field (`"concept": "null" | "text" | NAME`), read only to say so.
    #[serde(default, skip_serializing)]
    concept: Option<serde::de::IgnoredAny>,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Tag {
    Null,
    Concept,
    Text,
}

impl From<Condition> for Wire {
    fn from(c: Condition) -> Self {
        let (kind, name, args, text) = match c.kind {
            ConditionKind::Null => (Tag::Null, None, vec![], None),
            ConditionKind::Concept { name, args } => (Tag::Concept, Some(name), args, None),
            ConditionKind::Text { text } => (Tag::Text, None, vec![], Some(text)),
        };
        Wire { id: c.id, model: c.model, kind: Some(kind), name, args, text, concept: None }
    }
}

impl TryFrom<Wire> for Condition {
    type Error = String;

    fn try_from(w: Wire) -> Result<Self, String> {
        let id = w.id;
        let kind = match (w.kind, w.concept) {
            (_, Some(_)) => {
                return Err(format!(
                    "condition {id}: `concept` is the version 1 plan shape; this comp reads conditions tagged by `kind` (recompile the script with `comp plan --emit json`)"
                ))
            }
            (None, None) => return Err(format!("condition {id}: missing `kind` (`null`, `concept` or `text`)")),
            (Some(kind), None) => kind,
        };
        let extra = |field: &str, what: &str| Err(format!("condition {id}: a `{what}` condition has no `{field}`"));
        let kind = match kind {
            Tag::Null => match (&w.name, w.args.is_empty(), &w.text) {
                (Some(_), _, _) => return extra("name", "null"),
                (_, false, _) => return extra("args", "null"),
                (_, _, Some(_)) => return extra("text", "null"),
                _ => ConditionKind::Null,
            },
            Tag::Concept => match (w.name, w.text) {
                (_, Some(_)) => return extra("text", "concept"),
                (None, _) => return Err(format!("condition {id}: a `concept` condition needs its `name`")),
                (Some(name), None) if name == "null" || name == "text" => {
                    return Err(format!("condition {id}: `{name}` is not a concept's name: write `\"kind\": \"{name}\"`"))
                }
                (Some(name), None) => ConditionKind::Concept { name, args: w.args },
            },
            Tag::Text => match (w.name, w.args.is_empty(), w.text) {
                (Some(_), _, _) => return extra("name", "text"),
                (_, false, _) => return extra("args", "text"),
                (None, true, None) => return Err(format!("condition {id}: a `text` condition needs its `text`")),
                (None, true, Some(text)) => ConditionKind::Text { text },
            },
        };
        Ok(Condition { id, model: w.model, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<Condition, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn each_kind_round_trips_in_its_documented_shape() {
        let cases = [
            (Condition::null(0), r#"{"id":0,"kind":"null"}"#),
            (Condition::concept(1, "pos", vec![0.25, 0.5]), r#"{"id":1,"kind":"concept","name":"pos","args":[0.25,0.5]}"#),
            (Condition::concept(2, "ring", vec![]).of_model(Some("a".into())), r#"{"id":2,"model":"a","kind":"concept","name":"ring"}"#),
            (Condition::text(3, "a red cube"), r#"{"id":3,"kind":"text","text":"a red cube"}"#),
        ];
        for (c, json) in cases {
            assert_eq!(serde_json::to_string(&c).unwrap(), json);
            assert_eq!(read(json).unwrap(), c);
        }
    }

    #[test]
    fn fields_of_another_kind_are_refused_by_name() {
        for (json, says) in [
            (r#"{"id":0,"kind":"null","args":[1]}"#, "a `null` condition has no `args`"),
            (r#"{"id":0,"kind":"null","name":"ring"}"#, "a `null` condition has no `name`"),
            (r#"{"id":0,"kind":"concept","name":"ring","text":"x"}"#, "a `concept` condition has no `text`"),
            (r#"{"id":0,"kind":"concept"}"#, "needs its `name`"),
            (r#"{"id":0,"kind":"concept","name":"null"}"#, "write `\"kind\": \"null\"`"),
            (r#"{"id":0,"kind":"text","name":"ring"}"#, "a `text` condition has no `name`"),
            (r#"{"id":0,"kind":"text"}"#, "needs its `text`"),
            (r#"{"id":0}"#, "missing `kind`"),
            (r#"{"id":0,"kind":"prompt"}"#, "unknown variant `prompt`"),
            (r#"{"id":0,"kind":"null","colour":1}"#, "unknown field `colour`"),
            (r#"{"id":0,"concept":"ring"}"#, "version 1 plan shape"),
        ] {
            let e = read(json).unwrap_err();
            assert!(e.contains(says), "{json}: {e}");
        }
    }

    #[test]
    fn display_is_the_script_spelling() {
        assert_eq!(Condition::null(0).to_string(), "null");
        assert_eq!(Condition::concept(0, "pos", vec![0.25, 0.5]).of_model(Some("p".into())).to_string(), "p.pos(0.25, 0.5)");
        assert_eq!(Condition::text(0, "a \"red\" cube").to_string(), r#""a \"red\" cube""#);
    }
}
