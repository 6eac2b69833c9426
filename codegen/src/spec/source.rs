//! Spec files (YAML or JSON): parsing with positions, and mapping an attribute path back
//! to the line and column it came from, so diagnostics can say `FILE:LINE:COL`.

use std::collections::HashMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_saphyr::granit_parser::{Event, Parser};

use crate::{AttrPath, Error, PathStep, Result};

/// The syntax of a spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML 1.2 (the default).
    Yaml,
    /// JSON.
    Json,
}

impl Format {
    /// JSON for a `.json` file, YAML otherwise.
    pub fn of(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Yaml,
        }
    }
}

/// Parses `text` into `T`; a syntax or shape error is an [`Error::Parse`] with its position.
pub fn parse<T: DeserializeOwned>(text: &str, format: Format) -> Result<T> {
    match format {
        Format::Json => serde_json::from_str(text).map_err(|e| Error::Parse {
            message: strip_position(&e.to_string()),
            line: Some(e.line()),
            column: Some(e.column()),
        }),
        Format::Yaml => serde_saphyr::from_str(text).map_err(|e| {
            let loc = e.location();
            Error::Parse {
                message: first_line(&e.to_string()),
                line: loc.map(|l| l.line() as usize),
                column: loc.map(|l| l.column() as usize),
            }
        }),
    }
}

/// serde_json appends " at line L column C"; the position is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// serde-saphyr renders `error: line L column C: message` and a source snippet; the
/// position is reported separately, so only the message is kept.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default().trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    match line.split_once(": ") {
        Some((at, rest)) if at.starts_with("line ") && at.contains(" column ") => rest.to_owned(),
        _ => line.to_owned(),
    }
}

/// One step of a path through the YAML tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A mapping waiting for its next key (`None`) or value, or a sequence and its next index.
enum Frame {
    Map(Option<(String, (usize, usize))>),
    Seq(usize),
}

/// Positions (1-based line and column) of every node of a YAML or JSON document.
#[derive(Debug, Default)]
pub struct Positions(HashMap<Vec<Seg>, (usize, usize)>);

impl Positions {
    /// Reads the positions of the first document of `text`; a syntax error ends the walk
    /// (what was read before it is kept).
    pub fn of(text: &str) -> Self {
        let mut found = HashMap::new();
        let mut frames: Vec<Frame> = Vec::new();
        let mut path: Vec<Seg> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let at = (span.start.line(), span.start.col() + 1);
            let container = match &event {
                Event::MappingStart(..) => Some(Frame::Map(None)),
                Event::SequenceStart(..) => Some(Frame::Seq(0)),
                Event::Scalar(..) | Event::Alias(..) => None,
                Event::MappingEnd | Event::SequenceEnd => {
                    frames.pop();
                    path.pop();
                    continue;
                }
                Event::DocumentEnd => break,
                _ => continue,
            };
            // A scalar where a mapping expects a key is the key; remember it for its value.
            if let Some(Frame::Map(slot @ None)) = frames.last_mut() {
                match &event {
                    Event::Scalar(key, ..) => {
                        *slot = Some((key.to_string(), at));
                        continue;
                    }
                    _ => break, // complex keys are not part of any spec
                }
            }
            let (seg, key_at) = match frames.last_mut() {
                Some(Frame::Map(slot)) => match slot.take() {
                    Some((k, key_at)) => (Some(Seg::Key(k)), Some(key_at)),
                    None => break,
                },
                Some(Frame::Seq(next)) => {
                    *next += 1;
                    (Some(Seg::Index(*next - 1)), None)
                }
                None => (None, None),
            };
            let mut here = path.clone();
            here.extend(seg);
            // A nested block points at its key; a scalar at the value itself.
            let pos = match (&container, key_at) {
                (Some(_), Some(k)) => k,
                _ => at,
            };
            found.insert(here.clone(), pos);
            if let Some(frame) = container {
                frames.push(frame);
                path = here;
            }
        }
        Self(found)
    }

    /// Line and column of `path`, or of its nearest ancestor present in the file (an
    /// attribute left to its default has no position of its own).
    pub fn locate(&self, path: &AttrPath) -> Option<(usize, usize)> {
        let mut segs: Vec<Seg> = path
            .0
            .iter()
            .map(|s| match s {
                PathStep::Attr(a) | PathStep::Key(a) => Seg::Key(a.clone()),
                PathStep::Index(i) => Seg::Index(*i as usize),
            })
            .collect();
        loop {
            if let Some(p) = self.0.get(&segs) {
                return Some(*p);
            }
            segs.pop()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "workbench:\n  name: wb\n  subdomains:\n    - api\n    - Bad\n  tags:\n    team: data\n  cluster:\n    node_count: 3\n";

    #[test]
    fn yaml_paths_map_to_lines() {
        let p = Positions::of(YAML);
        let at = |path: AttrPath| p.locate(&path);
        let wb = AttrPath::attr("workbench");
        assert_eq!(at(wb.at("name")), Some((2, 9)));
        assert_eq!(at(wb.at("subdomains").index(1)), Some((5, 7)));
        assert_eq!(at(wb.at("tags").key("team")), Some((7, 11)));
        assert_eq!(at(wb.at("cluster")), Some((8, 3)));
        // Not in the file: its nearest ancestor.
        assert_eq!(at(wb.at("cluster").at("version")), Some((8, 3)));
    }

    #[test]
    fn json_paths_map_to_lines() {
        let json = "{\n  \"workbench\": {\n    \"name\": \"wb\",\n    \"subdomains\": [\"a\", \"B\"]\n  }\n}\n";
        let p = Positions::of(json);
        let wb = AttrPath::attr("workbench");
        assert_eq!(p.locate(&wb.at("name")), Some((3, 13)));
        assert_eq!(p.locate(&wb.at("subdomains").index(1)), Some((4, 25)));
    }

    #[test]
    fn parse_errors_carry_positions() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct S {
            name: String,
        }
        let Err(Error::Parse { line, message, .. }) =
            parse::<S>("name: a\nnmae: b\n", Format::Yaml)
        else {
            panic!("unknown field accepted");
        };
        assert_eq!(line, Some(2), "{message}");
        assert!(message.starts_with("unknown field `nmae`"), "{message}");
        let Err(Error::Parse { line, column, .. }) =
            parse::<S>("{\"name\": \"a\",\n \"x\": 1}", Format::Json)
        else {
            panic!("unknown field accepted");
        };
        assert_eq!(line, Some(2));
        assert!(column.is_some());
    }
}
