//! `codegen::Diagnostic` and `AttrPath`, mapped one to one onto tfplugin6's.

use codegen::{AttrPath, Diagnostic, Diagnostics, PathStep, Severity};
use ipai_codegen as codegen;

use crate::proto::tfplugin6 as pb;

/// The tfplugin6 form of an attribute path.
pub fn path_to_proto(path: &AttrPath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: path
            .0
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    PathStep::Attr(a) => Selector::AttributeName(a.clone()),
                    PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                    PathStep::Index(i) => {
                        Selector::ElementKeyInt(i64::try_from(*i).unwrap_or(i64::MAX))
                    }
                }),
            })
            .collect(),
    }
}

/// The codegen form of a tfplugin6 attribute path (steps without a selector are skipped).
pub fn path_from_proto(path: &pb::AttributePath) -> AttrPath {
    use pb::attribute_path::step::Selector;
    AttrPath(
        path.steps
            .iter()
            .filter_map(|s| {
                Some(match s.selector.as_ref()? {
                    Selector::AttributeName(a) => PathStep::Attr(a.clone()),
                    Selector::ElementKeyString(k) => PathStep::Key(k.clone()),
                    Selector::ElementKeyInt(i) => PathStep::Index(u64::try_from(*i).ok()?),
                })
            })
            .collect(),
    )
}

/// The tfplugin6 form of a diagnostic; the root path becomes "no attribute". Terraform
/// locates a path in the configuration only down to a top-level attribute, so a path into
/// an attribute's value (`tables[0].columns[2].name`) is also named in the detail.
pub fn to_proto(d: &Diagnostic) -> pb::Diagnostic {
    pb::Diagnostic {
        severity: match d.severity {
            Severity::Error => pb::diagnostic::Severity::Error,
            Severity::Warning => pb::diagnostic::Severity::Warning,
        } as i32,
        summary: d.summary.clone(),
        detail: if d.path.0.len() > 1 {
            format!("{}\n\nAttribute: {}", d.detail, d.path)
        } else {
            d.detail.clone()
        },
        attribute: (!d.path.0.is_empty()).then(|| path_to_proto(&d.path)),
    }
}

/// Every diagnostic in tfplugin6 form.
pub fn all_to_proto(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    d.0.iter().map(to_proto).collect()
}

/// One error diagnostic, for the common case of a handler failing as a whole.
pub fn error(path: AttrPath, summary: impl Into<String>, detail: impl Into<String>) -> Diagnostics {
    Diagnostics(vec![Diagnostic::error(path, summary, detail)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::attribute_path::step::Selector;

    #[test]
    fn paths_map_step_by_step() {
        let path = AttrPath::attr("tables").index(2).at("columns").key("x");
        let proto = path_to_proto(&path);
        let selectors: Vec<_> = proto
            .steps
            .iter()
            .map(|s| s.selector.clone().unwrap())
            .collect();
        assert_eq!(
            selectors,
            vec![
                Selector::AttributeName("tables".into()),
                Selector::ElementKeyInt(2),
                Selector::AttributeName("columns".into()),
                Selector::ElementKeyString("x".into()),
            ]
        );
        assert_eq!(path_from_proto(&proto), path);
    }

    #[test]
    fn diagnostics_keep_summary_detail_severity_and_path() {
        let d = Diagnostic::warning(AttrPath::attr("name"), "Odd name", "It is odd.");
        let p = to_proto(&d);
        assert_eq!(p.severity, pb::diagnostic::Severity::Warning as i32);
        assert_eq!(
            (p.summary.as_str(), p.detail.as_str()),
            ("Odd name", "It is odd.")
        );
        assert_eq!(
            path_from_proto(p.attribute.as_ref().unwrap()),
            AttrPath::attr("name")
        );
        let nested = AttrPath::attr("tables").index(0).at("name");
        let n = to_proto(&Diagnostic::error(nested.clone(), "Bad name", "It is bad."));
        assert_eq!(n.detail, "It is bad.\n\nAttribute: tables[0].name");
        assert_eq!(path_from_proto(n.attribute.as_ref().unwrap()), nested);
        let e = to_proto(&Diagnostic::error(AttrPath::root(), "Broken", "Entirely."));
        assert_eq!(e.severity, pb::diagnostic::Severity::Error as i32);
        assert!(e.attribute.is_none());
    }
}
