//! The syntax tree as JSON (`comp plan --emit ast`) is valid JSON with no key written twice in
//! any object, for a program that uses every node kind.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// Deserialises any JSON, failing on an object with a repeated key.
struct NoDuplicateKeys;

impl<'de> Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Check)
    }
}

struct Check;

impl<'de> Visitor<'de> for Check {
    type Value = NoDuplicateKeys;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            map.next_value::<NoDuplicateKeys>()?;
        }
        Ok(NoDuplicateKeys)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(NoDuplicateKeys)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(Check)
    }
}

#[test]
fn no_object_repeats_a_key() {
    // Settings with a number, a name, a call with named and positional arguments, a string
    // argument, an expression; lets and samples with every expression form and `with`.
    let src = r#"model toy2d
scale 7.5
base none
sampler ddim(steps: 50, eta: 0)
mcmc hmc(10, beta_scaled: true)
base 0.5 * ring AND bar
let a = (ring AND NOT bar) @ [0, 0.5]
sample s = 0.7 : a OR 0.3 : pos(0.1, y: 0.2) OR "a red cube" with scale 5, seed 3, base null
"#;
    let program = comp_grammar::parse(src).expect("parses");
    let json = serde_json::to_string_pretty(&program).unwrap();
    if let Err(e) = serde_json::from_str::<NoDuplicateKeys>(&json) {
        panic!("{e}\n{json}");
    }
    // The check itself catches what it is for.
    assert!(serde_json::from_str::<NoDuplicateKeys>(r#"{"kind": 1, "kind": 2}"#).is_err());
}
