//! Python literals as JSON values: the 2014 Amazon metadata files are one `repr` of a dict per line
//! (`{'asin': '0000031852', 'price': 3.17, 'categories': [['Books', 'Fiction']], 'x': None}`).
//! Strings in single or double quotes with backslash escapes, numbers, `True`/`False`/`None`,
//! lists, tuples and dicts.

use serde_json::{Map, Number, Value};

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// Parses one literal; the error says at which byte and why.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text at byte {}", p.i));
    }
    Ok(v)
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => self.dict(),
            Some(b'[') => self.seq(b']'),
            Some(b'(') => self.seq(b')'),
            Some(b'\'' | b'"') => self.string().map(Value::String),
            Some(b'-' | b'+' | b'.' | b'0'..=b'9') => self.number(),
            Some(_) => self.word(),
            None => self.err("unexpected end"),
        }
    }

    fn word(&mut self) -> Result<Value, String> {
        for (w, v) in [("True", Value::Bool(true)), ("False", Value::Bool(false)), ("None", Value::Null)] {
            if self.s[self.i..].starts_with(w.as_bytes()) {
                self.i += w.len();
                return Ok(v);
            }
        }
        self.err("unknown token")
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c)) {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        let n = text.parse::<f64>().ok().and_then(Number::from_f64);
        n.map(Value::Number).map_or_else(|| self.err("bad number"), Ok)
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = self.s[self.i];
        self.i += 1;
        let mut out = Vec::new();
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            match c {
                _ if c == quote => return String::from_utf8(out).map_err(|_| "invalid UTF-8 in a string".into()),
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("unterminated escape")?;
                    self.i += 1;
                    out.extend_from_slice(match e {
                        b'n' => b"\n",
                        b't' => b"\t",
                        b'r' => b"\r",
                        _ => std::slice::from_ref(&self.s[self.i - 1]),
                    });
                }
                _ => out.push(c),
            }
        }
        self.err("unterminated string")
    }

    fn seq(&mut self, close: u8) -> Result<Value, String> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.s.get(self.i) == Some(&close) {
                self.i += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value()?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(&c) if c == close => {}
                _ => return self.err("expected ',' or a closing bracket"),
            }
        }
    }

    fn dict(&mut self) -> Result<Value, String> {
        self.i += 1;
        let mut map = Map::new();
        loop {
            self.ws();
            if self.s.get(self.i) == Some(&b'}') {
                self.i += 1;
                return Ok(Value::Object(map));
            }
            let key = match self.value()? {
                Value::String(k) => k,
                other => other.to_string(),
            };
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return self.err("expected ':'");
            }
            self.i += 1;
            map.insert(key, self.value()?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return self.err("expected ',' or '}'"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazon_2014_metadata_lines_parse_as_json_values() {
        let v = parse(r#"{'asin': '0000031852', 'title': "Girls' Ballet Tutu", 'price': 3.17, 'salesRank': {'Toys & Games': 211836}, 'categories': [['Sports & Outdoors', 'Other Sports', 'Dance']], 'x': (1, -2e3), 'y': None, 'z': True, 'n': 'a\'b\\c'}"#).unwrap();
        assert_eq!(v["title"], "Girls' Ballet Tutu");
        assert_eq!(v["price"], 3.17);
        assert_eq!(v["categories"][0][2], "Dance");
        assert_eq!(v["x"][1], -2000.0);
        assert_eq!((v["y"].is_null(), v["z"].as_bool()), (true, Some(true)));
        assert_eq!(v["n"], "a'b\\c");
        assert!(parse("{'a': 1").unwrap_err().contains("expected ',' or '}'"));
        assert!(parse("{'a': nope}").unwrap_err().contains("unknown token"));
    }
}
