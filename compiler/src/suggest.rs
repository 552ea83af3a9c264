//! "Did you mean ...?": the closest known name to a misspelt one.

/// The candidate closest to `name`, when one is close enough to be a likely typo.
///
/// `suggest("rng", ["ring", "bar"])` is `Some("ring")`; `suggest("xyz", ["ring"])` is `None`.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(&str, f64)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let lev = strsim::levenshtein(&name.to_lowercase(), &c.to_lowercase());
        let jw = strsim::jaro_winkler(name, c);
        let close = lev <= 1.max(name.chars().count().min(c.chars().count()) / 3) || jw >= 0.85;
        if close && best.is_none_or(|(_, s)| jw > s) {
            best = Some((c, jw));
        }
    }
    best.map(|(c, _)| c)
}

/// `help` text: "did you mean `ring`?" when there is a close candidate.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    suggest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested() {
        assert_eq!(suggest("rng", ["ring", "bar"]), Some("ring"));
        assert_eq!(suggest("box_lage", ["box_large", "box_small"]), Some("box_large"));
        assert_eq!(suggest("toy2", ["toy2d", "clevr-pos"]), Some("toy2d"));
        assert_eq!(suggest("xyzzy", ["ring", "bar"]), None);
    }
}
