//! Folding: the same finding of one control in many regions (EBS encryption off in all 17, the
//! default security group of every VPC open) is one block with the regions listed, not 17
//! copies. Two items fold when they differ only in their region and in resource ids
//! (`sg-…`, `vpc-…`): same status, summary, change, calls, risk, notes and steps. Targets in
//! use never fold: their blast radius is their own.

use crate::plan::Item;

/// Items that read the same, in plan order; the first is the one shown.
pub struct Group<'a> {
    pub items: Vec<&'a Item>,
}

impl<'a> Group<'a> {
    pub fn first(&self) -> &'a Item {
        self.items[0]
    }

    /// The regions the group spans, in plan order, without repeats.
    pub fn regions(&self) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        for i in &self.items {
            if !out.contains(&i.where_()) {
                out.push(i.where_());
            }
        }
        out
    }

    /// `[eu-west-1]`, `[eu-west-1, us-east-1]`, `[eu-west-1, us-east-1 +11]`; against the
    /// plan's regions `all`, `[all 17 regions]` and `[16 regions: all but eu-west-1]` (all but
    /// one or two), which say more in fewer words.
    pub fn where_label(&self, all: &[String]) -> String {
        let r = self.regions();
        let covered = |x: &String| r.contains(&x.as_str());
        let missing: Vec<&str> = all
            .iter()
            .filter(|x| !covered(x))
            .map(String::as_str)
            .collect();
        let within = r.iter().all(|x| all.iter().any(|a| a == x));
        if all.len() > 4 && within && missing.is_empty() {
            return format!("[all {} regions]", all.len());
        }
        if all.len() > 4 && within && missing.len() <= 2 && r.len() > 2 {
            return format!("[{} regions: all but {}]", r.len(), missing.join(", "));
        }
        match r.len() {
            0..=2 => format!("[{}]", r.join(", ")),
            n => format!("[{}, {} +{}]", r[0], r[1], n - 2),
        }
    }
}

/// Group `items` (keeping plan order: a group sits where its first item was). With `expand`
/// every item is its own group.
pub fn fold<'a>(items: &[&'a Item], expand: bool) -> Vec<Group<'a>> {
    let mut groups: Vec<(String, Group<'a>)> = Vec::new();
    for item in items {
        let key = if expand || !item.finding.in_use.is_empty() {
            format!("#{}", item.index)
        } else {
            key(item)
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, g)) => g.items.push(item),
            None => groups.push((key, Group { items: vec![item] })),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// What must be equal for two items to fold, with the region and resource ids taken out.
fn key(item: &Item) -> String {
    let f = &item.finding;
    let r = item.region.as_deref();
    let n = |s: &str| normalize(s, r);
    let changed: Vec<String> = super::field_diff(&f.before, &f.after)
        .into_iter()
        .filter(super::FieldChange::changed)
        .map(|c| n(&format!("{}={}>{}", c.field, c.before, c.after)))
        .collect();
    let calls: Vec<&str> = f.calls.iter().map(|c| c.action.as_str()).collect();
    let parts = [
        item.control.clone(),
        format!("{:?}{:?}{:?}", f.status, f.action, f.risk),
        format!("{}{}", f.reversible, f.destructive),
        n(&f.target),
        n(&f.summary),
        changed.join("\u{1}"),
        calls.join(","),
        f.caution
            .iter()
            .map(|c| n(c))
            .collect::<Vec<_>>()
            .join("\u{1}"),
        f.notes
            .iter()
            .map(|c| n(c))
            .collect::<Vec<_>>()
            .join("\u{1}"),
        f.manual_steps
            .iter()
            .map(|c| n(c))
            .collect::<Vec<_>>()
            .join("\u{1}"),
        f.needs.join(","),
    ];
    parts.join("\u{0}")
}

/// `s` with `region` replaced by `<region>` and AWS resource ids (`sg-0a1b…`, `vpc-…`,
/// `acl-…`: a short lowercase prefix, a dash, eight or more hex digits) by `<id>`.
pub fn normalize(s: &str, region: Option<&str>) -> String {
    let s = match region {
        Some(r) if !r.is_empty() => s.replace(r, "<region>"),
        _ => s.to_string(),
    };
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let flush = |out: &mut String, word: &mut String| {
        if is_resource_id(word) {
            out.push_str("<id>");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() || ch == '-' {
            word.push(ch);
        } else {
            flush(&mut out, &mut word);
            out.push(ch);
        }
    }
    flush(&mut out, &mut word);
    // A list of ids (the subnets of an ACL) reads the same whatever its length.
    while out.contains("<id>, <id>") {
        out = out.replace("<id>, <id>", "<id>");
    }
    out
}

fn is_resource_id(w: &str) -> bool {
    let Some((prefix, rest)) = w.split_once('-') else {
        return false;
    };
    (2..=8).contains(&prefix.len())
        && prefix.chars().all(|c| c.is_ascii_lowercase())
        && rest.len() >= 8
        && rest.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_the_region_are_taken_out() {
        assert_eq!(
            normalize(
                "security group sg-0a35c7f3bc616633d (default, vpc-1801aa3366e9c5faf) in eu-west-1",
                Some("eu-west-1")
            ),
            "security group <id> (default, <id>) in <region>"
        );
        // Words that only look a little like ids stay.
        assert_eq!(
            normalize("cis-fix-config us-east-1", None),
            "cis-fix-config us-east-1"
        );
    }
}
