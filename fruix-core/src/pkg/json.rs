//! JSON as pkg writes it, read strictly: a key twice in one object is an error (UCL would
//! have turned it into an array; serde_json would silently keep the last one).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// A JSON value whose objects had no duplicate keys.
pub struct StrictValue(pub Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictValue(v) = map.next_value()?;
            if obj.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "the key `{}` appears twice in one object",
                    key.escape_debug()
                )));
            }
            obj.insert(key, v);
        }
        Ok(Value::Object(obj))
    }
}

/// Parses one JSON document strictly.
pub fn parse(text: &[u8]) -> Result<Value, String> {
    serde_json::from_slice::<StrictValue>(text)
        .map(|v| v.0)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(super::parse(br#"{"a":1,"b":{"c":2}}"#).is_ok());
        let e = super::parse(br#"{"a":1,"a":2}"#).unwrap_err();
        assert!(e.contains("`a` appears twice"), "{e}");
        let e = super::parse(br#"{"x":[{"f":1,"f":1}]}"#).unwrap_err();
        assert!(e.contains("`f` appears twice"), "{e}");
        assert!(super::parse(b"{\"a\":1} trailing").is_err());
    }
}
