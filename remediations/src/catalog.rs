//! The benchmark catalog: `remediations/*.toml`, embedded at build time, and the resolution of
//! user selections (`--control 3.1`, slugs, Security Hub ids, `--section`, `--level`) in the
//! numbering of one benchmark version.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

const CATALOG_TOML: &str = include_str!("../catalog.toml");
const BENCHMARKS_TOML: &str = include_str!("../benchmarks.toml");

/// A CIS AWS Foundations Benchmark version cis-fix knows the numbering of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Benchmark {
    #[serde(rename = "1.2")]
    V1_2,
    #[serde(rename = "1.4")]
    V1_4,
    #[serde(rename = "3.0")]
    V3_0,
    #[serde(rename = "5.0")]
    V5_0,
    #[serde(rename = "6.0")]
    V6_0,
    #[serde(rename = "7.0")]
    V7_0,
}

impl Benchmark {
    pub const ALL: [Benchmark; 6] = [
        Benchmark::V1_2,
        Benchmark::V1_4,
        Benchmark::V3_0,
        Benchmark::V5_0,
        Benchmark::V6_0,
        Benchmark::V7_0,
    ];

    /// The short key used on the command line and in the data files.
    pub fn key(self) -> &'static str {
        match self {
            Benchmark::V1_2 => "1.2",
            Benchmark::V1_4 => "1.4",
            Benchmark::V3_0 => "3.0",
            Benchmark::V5_0 => "5.0",
            Benchmark::V6_0 => "6.0",
            Benchmark::V7_0 => "7.0",
        }
    }

    pub fn full(self) -> String {
        format!("{}.0", self.key())
    }
}

impl Default for Benchmark {
    /// 5.0.0: the newest version Security Hub supports.
    fn default() -> Self {
        Benchmark::V5_0
    }
}

impl fmt::Display for Benchmark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CIS {}", self.full())
    }
}

impl FromStr for Benchmark {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().trim_start_matches(['v', 'V']);
        let t = t
            .strip_suffix(".0")
            .filter(|r| r.contains('.'))
            .unwrap_or(t);
        Benchmark::ALL
            .into_iter()
            .find(|b| b.key() == t)
            .ok_or_else(|| {
                format!(
                    "unknown benchmark version '{s}': use one of {}",
                    Benchmark::ALL.map(|b| b.key()).join(", ")
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Assessment {
    Automated,
    Manual,
}

/// Whether the control can be fixed through the AWS API from an IAM principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fixable {
    Yes,
    Partly,
    No,
}

/// One recommendation, identified by a stable slug, with its id in each benchmark version.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub slug: String,
    pub title: String,
    /// The risk the control addresses, in a sentence or two (from the CIS rationale, in
    /// cis-fix's words): the guide's "Why" and the docs. Every control cis-fix fixes or checks
    /// has one.
    #[serde(default)]
    pub rationale: String,
    pub level: u8,
    pub assessment: Assessment,
    pub fixable: Fixable,
    pub fixable_reason: String,
    #[serde(default)]
    pub security_hub: Vec<String>,
    #[serde(default)]
    pub notes: String,
    /// Extra ids in a version where one recommendation there covers part of this one
    /// (1.2.0 split the admin-port rule into 4.1 for SSH and 4.2 for RDP).
    #[serde(default)]
    pub ids_extra: BTreeMap<Benchmark, Vec<String>>,
    /// Controls whose changes must exist first (the trail before its selectors, the trail's
    /// log group before the metric filters). `--with-dependencies` selects them too.
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub ids: BTreeMap<Benchmark, String>,
}

impl Entry {
    /// The id in `b`'s numbering, if this recommendation exists there.
    pub fn id_in(&self, b: Benchmark) -> Option<&str> {
        self.ids.get(&b).map(String::as_str)
    }

    /// Every id this entry answers to in `b` (the main id and any extras).
    fn all_ids_in(&self, b: Benchmark) -> impl Iterator<Item = &str> {
        self.ids.get(&b).map(String::as_str).into_iter().chain(
            self.ids_extra
                .get(&b)
                .into_iter()
                .flatten()
                .map(String::as_str),
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkInfo {
    pub version: Benchmark,
    pub full: String,
    #[serde(default)]
    pub security_hub_standard: String,
    pub sections: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    control: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BenchmarksFile {
    benchmark: Vec<BenchmarkInfo>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the embedded catalog is invalid: {0}")]
    Invalid(String),
}

#[derive(Debug)]
pub struct Catalog {
    pub entries: Vec<Entry>,
    pub benchmarks: Vec<BenchmarkInfo>,
}

/// What a user asked for, before resolution.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub benchmark: Benchmark,
    pub controls: Vec<String>,
    pub sections: Vec<String>,
    pub level: Option<u8>,
    /// Also select every control the chosen ones depend on.
    pub with_dependencies: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SelectionError {
    #[error("{0}")]
    Unknown(String),
    #[error("{0}")]
    Ambiguous(String),
    #[error("{0}")]
    NotInBenchmark(String),
}

impl Catalog {
    /// The catalog compiled into this binary. Parsed once per process.
    pub fn embedded() -> Result<&'static Catalog, CatalogError> {
        static CATALOG: OnceLock<Result<Catalog, String>> = OnceLock::new();
        CATALOG
            .get_or_init(|| Catalog::parse(CATALOG_TOML, BENCHMARKS_TOML))
            .as_ref()
            .map_err(|e| CatalogError::Invalid(e.clone()))
    }

    fn parse(catalog: &str, benchmarks: &str) -> Result<Catalog, String> {
        let c: CatalogFile =
            toml::from_str(catalog).map_err(|e| format!("remediations/catalog.toml: {e}"))?;
        let b: BenchmarksFile =
            toml::from_str(benchmarks).map_err(|e| format!("remediations/benchmarks.toml: {e}"))?;
        let cat = Catalog {
            entries: c.control,
            benchmarks: b.benchmark,
        };
        cat.validate()?;
        Ok(cat)
    }

    /// Invariants the rest of the program relies on.
    pub fn validate(&self) -> Result<(), String> {
        let mut slugs = BTreeSet::new();
        for e in &self.entries {
            if !slugs.insert(e.slug.as_str()) {
                return Err(format!("duplicate slug '{}'", e.slug));
            }
            if e.ids.is_empty() {
                return Err(format!("'{}' has no id in any version", e.slug));
            }
            if !(1..=2).contains(&e.level) {
                return Err(format!("'{}' has level {}", e.slug, e.level));
            }
        }
        for b in Benchmark::ALL {
            let info = self
                .benchmarks
                .iter()
                .find(|i| i.version == b)
                .ok_or_else(|| format!("no benchmarks.toml entry for {b}"))?;
            let mut seen = BTreeMap::new();
            for e in &self.entries {
                for id in e.all_ids_in(b) {
                    if let Some(other) = seen.insert(id.to_string(), e.slug.as_str()) {
                        return Err(format!(
                            "{b}: id {id} is used by both '{other}' and '{}'",
                            e.slug
                        ));
                    }
                    let section = id.split('.').next().unwrap_or(id);
                    if !info.sections.contains_key(section) {
                        return Err(format!("{b}: id {id} of '{}' is in no section", e.slug));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn by_slug(&self, slug: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.slug == slug)
    }

    pub fn info(&self, b: Benchmark) -> Option<&BenchmarkInfo> {
        self.benchmarks.iter().find(|i| i.version == b)
    }

    /// Every entry of `b`, in that version's id order.
    pub fn in_benchmark(&self, b: Benchmark) -> Vec<&Entry> {
        let mut v: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.ids.contains_key(&b))
            .collect();
        v.sort_by(|x, y| id_order(x.id_in(b).unwrap_or(""), y.id_in(b).unwrap_or("")));
        v
    }

    /// Resolve a selection to entries of `sel.benchmark`, in id order. No `--control` and no
    /// `--section` means the whole benchmark; `--level` then narrows it.
    pub fn resolve(&self, sel: &Selection) -> Result<Vec<&Entry>, SelectionError> {
        let b = sel.benchmark;
        let all = self.in_benchmark(b);
        let mut chosen: BTreeSet<&str> = BTreeSet::new();
        for c in &sel.controls {
            chosen.insert(self.resolve_one(b, c)?.slug.as_str());
        }
        for s in &sel.sections {
            let s = s.trim().trim_end_matches('.');
            let prefix = format!("{s}.");
            let hits: Vec<&Entry> = all
                .iter()
                .copied()
                .filter(|e| e.id_in(b).is_some_and(|id| id.starts_with(&prefix)))
                .collect();
            if hits.is_empty() {
                let names = self
                    .info(b)
                    .map(|i| {
                        i.sections
                            .iter()
                            .filter(|(k, _)| !k.contains('.'))
                            .map(|(k, v)| format!("{k} ({v})"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                return Err(SelectionError::Unknown(format!(
                    "unknown section '{s}' in {b}: sections are {names}"
                )));
            }
            chosen.extend(hits.iter().map(|e| e.slug.as_str()));
        }
        let explicit = !sel.controls.is_empty() || !sel.sections.is_empty();
        if sel.with_dependencies && explicit {
            let mut todo: Vec<&str> = chosen.iter().copied().collect();
            while let Some(slug) = todo.pop() {
                for dep in self
                    .by_slug(slug)
                    .map(|e| e.depends_on.as_slice())
                    .unwrap_or(&[])
                {
                    if self.by_slug(dep).is_some_and(|d| d.id_in(b).is_some())
                        && chosen.insert(dep.as_str())
                    {
                        todo.push(dep.as_str());
                    }
                }
            }
        }
        Ok(all
            .into_iter()
            .filter(|e| !explicit || chosen.contains(e.slug.as_str()))
            .filter(|e| level_matches(sel.level, e.level))
            .collect())
    }

    /// One `--control` value: an id in `b`'s numbering, a slug, or a Security Hub id.
    pub fn resolve_one(&self, b: Benchmark, raw: &str) -> Result<&Entry, SelectionError> {
        let q = raw.trim();
        if let Some(e) = self
            .entries
            .iter()
            .find(|e| e.all_ids_in(b).any(|id| id == q))
        {
            return Ok(e);
        }
        if let Some(e) = self.by_slug(&q.to_ascii_lowercase()) {
            return match e.id_in(b) {
                Some(_) => Ok(e),
                None => Err(SelectionError::NotInBenchmark(format!(
                    "'{q}' is not part of {b}{}",
                    self.elsewhere(e)
                ))),
            };
        }
        let sh: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.security_hub.iter().any(|s| s.eq_ignore_ascii_case(q)))
            .collect();
        match sh.as_slice() {
            [e] if e.id_in(b).is_some() => return Ok(e),
            [e] => {
                return Err(SelectionError::NotInBenchmark(format!(
                    "Security Hub control {q} maps to '{}', which is not part of {b}{}",
                    e.slug,
                    self.elsewhere(e)
                )))
            }
            [] => {}
            many => {
                return Err(SelectionError::Ambiguous(format!(
                    "Security Hub control {q} maps to several controls: {}",
                    many.iter()
                        .map(|e| self.label(b, e))
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
        // A subsection heading (6.0's "3.1" is S3, not a control).
        let prefix = format!("{q}.");
        let under: Vec<&Entry> = self
            .in_benchmark(b)
            .into_iter()
            .filter(|e| e.id_in(b).is_some_and(|id| id.starts_with(&prefix)))
            .collect();
        let other_versions = self.meaning_elsewhere(b, q);
        if !under.is_empty() {
            return Err(SelectionError::Ambiguous(format!(
                "'{q}' is a section of {b}, not a control: it holds {}; use --section {q} or name one control{}",
                under.iter().map(|e| self.label(b, e)).collect::<Vec<_>>().join(", "),
                other_versions
            )));
        }
        let close = self.close_matches(b, q);
        let hint = if close.is_empty() {
            String::from("; `cis-fix controls` lists them")
        } else {
            format!("; did you mean {}?", close.join(", "))
        };
        Err(SelectionError::Unknown(format!(
            "unknown control '{q}' in {b}{hint}{other_versions}"
        )))
    }

    fn label(&self, b: Benchmark, e: &Entry) -> String {
        format!("{} ({})", e.id_in(b).unwrap_or("-"), e.slug)
    }

    /// " (it is 2.21 in CIS 7.0.0); use --benchmark 7.0" for an entry missing from a version.
    fn elsewhere(&self, e: &Entry) -> String {
        let list: Vec<String> = e
            .ids
            .iter()
            .map(|(v, id)| format!("{id} in {}", v.full()))
            .collect();
        let newest = e.ids.keys().next_back().map(|v| v.key()).unwrap_or("5.0");
        format!(" (it is {}); use --benchmark {newest}", list.join(", "))
    }

    /// What the id `q` means in the other versions, as a sentence tail, grouping the
    /// versions where it names the same control.
    fn meaning_elsewhere(&self, b: Benchmark, q: &str) -> String {
        let mut groups: Vec<(&Entry, Vec<&'static str>)> = Vec::new();
        for v in Benchmark::ALL.into_iter().filter(|v| *v != b) {
            if let Some(e) = self
                .entries
                .iter()
                .find(|e| e.all_ids_in(v).any(|id| id == q))
            {
                match groups.iter_mut().find(|(g, _)| g.slug == e.slug) {
                    Some((_, vs)) => vs.push(v.key()),
                    None => groups.push((e, vec![v.key()])),
                }
            }
        }
        let parts: Vec<String> = groups
            .iter()
            .map(|(e, vs)| {
                let now = e
                    .id_in(b)
                    .map(|id| format!("{id} in {}", b.full()))
                    .unwrap_or_else(|| format!("not in {}", b.full()));
                format!("in {} {q} is '{}' ({now})", vs.join("/"), e.slug)
            })
            .collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!(". Note: {}", parts.join("; "))
        }
    }

    fn close_matches(&self, b: Benchmark, q: &str) -> Vec<String> {
        let ql = q.to_ascii_lowercase();
        let mut scored: Vec<(f64, String)> = self
            .in_benchmark(b)
            .into_iter()
            .flat_map(|e| {
                let id = e.id_in(b).unwrap_or("").to_string();
                let label = self.label(b, e);
                [
                    (strsim::jaro_winkler(&ql, &id), label.clone()),
                    (strsim::jaro_winkler(&ql, &e.slug), label),
                ]
            })
            .filter(|(s, _)| *s > 0.8)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut out: Vec<String> = Vec::new();
        for (_, l) in scored {
            if !out.contains(&l) {
                out.push(l);
            }
            if out.len() == 3 {
                break;
            }
        }
        out
    }
}

/// CIS profiles nest: Level 2 includes Level 1.
pub fn level_matches(filter: Option<u8>, level: u8) -> bool {
    match filter {
        None => true,
        Some(f) => level <= f,
    }
}

/// Numeric order for dotted ids: 1.2 < 1.10 < 2.1.1.
pub fn id_order(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |s: &str| -> Vec<u32> {
        s.split('.')
            .map(|p| p.parse().unwrap_or(u32::MAX))
            .collect()
    };
    parse(a).cmp(&parse(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> &'static Catalog {
        Catalog::embedded().expect("embedded catalog parses and validates")
    }

    #[test]
    fn catalog_counts_per_version() {
        let c = cat();
        assert_eq!(c.in_benchmark(Benchmark::V5_0).len(), 63);
        assert_eq!(c.in_benchmark(Benchmark::V6_0).len(), 63);
        assert_eq!(c.in_benchmark(Benchmark::V7_0).len(), 70);
        assert_eq!(c.entries.len(), 72);
    }

    #[test]
    fn mappings_are_consistent_across_versions() {
        let c = cat();
        // 6.0.0 is 5.0.0 renumbered: every 5.0 control has a 6.0 id and vice versa.
        for e in &c.entries {
            assert_eq!(
                e.ids.contains_key(&Benchmark::V5_0),
                e.ids.contains_key(&Benchmark::V6_0),
                "{}",
                e.slug
            );
            // Sections 1-5 in 5.0 become 2-6 in 6.0, with the same tail.
            if let (Some(a), Some(b)) = (e.id_in(Benchmark::V5_0), e.id_in(Benchmark::V6_0)) {
                let (s5, t5) = a.split_once('.').unwrap();
                let (s6, t6) = b.split_once('.').unwrap();
                assert_eq!(
                    s6.parse::<u32>().unwrap(),
                    s5.parse::<u32>().unwrap() + 1,
                    "{}",
                    e.slug
                );
                assert_eq!(t5, t6, "{}", e.slug);
            }
        }
    }

    #[test]
    fn known_ids_resolve() {
        let c = cat();
        let r = |b, q| c.resolve_one(b, q).map(|e| e.slug.clone());
        assert_eq!(
            r(Benchmark::V5_0, "3.1").unwrap(),
            "cloudtrail-multi-region"
        );
        assert_eq!(
            r(Benchmark::V6_0, "4.1").unwrap(),
            "cloudtrail-multi-region"
        );
        assert_eq!(
            r(Benchmark::V1_2, "2.1").unwrap(),
            "cloudtrail-multi-region"
        );
        assert_eq!(r(Benchmark::V5_0, "1.7").unwrap(), "password-min-length");
        assert_eq!(r(Benchmark::V7_0, "2.8").unwrap(), "password-min-length");
        assert_eq!(r(Benchmark::V1_2, "1.9").unwrap(), "password-min-length");
        assert_eq!(
            r(Benchmark::V5_0, "IAM.16").unwrap(),
            "password-reuse-prevention"
        );
        assert_eq!(
            r(Benchmark::V5_0, "cloudtrail.1").unwrap(),
            "cloudtrail-multi-region"
        );
        assert_eq!(
            r(Benchmark::V5_0, "password-min-length").unwrap(),
            "password-min-length"
        );
    }

    #[test]
    fn section_heading_is_ambiguous_and_names_other_versions() {
        let c = cat();
        let err = c.resolve_one(Benchmark::V6_0, "3.1").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SelectionError::Ambiguous(_)), "{msg}");
        assert!(msg.contains("--section 3.1"), "{msg}");
        assert!(msg.contains("cloudtrail-multi-region"), "{msg}");
        assert!(
            msg.contains("in 1.4/3.0/5.0 3.1 is 'cloudtrail-multi-region' (4.1 in 6.0.0)"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_id_suggests_close_matches() {
        let msg = cat()
            .resolve_one(Benchmark::V5_0, "password-min-lenght")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("did you mean") && msg.contains("password-min-length"),
            "{msg}"
        );
        let msg = cat()
            .resolve_one(Benchmark::V5_0, "9.9")
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("unknown control '9.9' in CIS 5.0.0"),
            "{msg}"
        );
    }

    #[test]
    fn slug_outside_benchmark_says_where_it_is() {
        let e = cat()
            .entries
            .iter()
            .find(|e| !e.ids.contains_key(&Benchmark::V5_0))
            .unwrap();
        let msg = cat()
            .resolve_one(Benchmark::V5_0, &e.slug)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("use --benchmark 7.0"), "{msg}");
    }

    #[test]
    fn sections_and_levels_select() {
        let c = cat();
        let sel = Selection {
            benchmark: Benchmark::V5_0,
            sections: vec!["3".into()],
            ..Default::default()
        };
        let got = c.resolve(&sel).unwrap();
        assert_eq!(got.len(), 9);
        assert!(got
            .iter()
            .all(|e| e.id_in(Benchmark::V5_0).unwrap().starts_with("3.")));
        let l1 = c
            .resolve(&Selection {
                level: Some(1),
                ..Default::default()
            })
            .unwrap();
        assert!(l1.iter().all(|e| e.level == 1));
        assert!(l1.len() < 63);
        let err = c
            .resolve(&Selection {
                sections: vec!["9".into()],
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.to_string().contains("unknown section '9'"));
    }

    #[test]
    fn benchmark_parses_common_spellings() {
        assert_eq!("5.0".parse::<Benchmark>().unwrap(), Benchmark::V5_0);
        assert_eq!("5.0.0".parse::<Benchmark>().unwrap(), Benchmark::V5_0);
        assert_eq!("v1.2".parse::<Benchmark>().unwrap(), Benchmark::V1_2);
        assert!("2.0".parse::<Benchmark>().is_err());
    }

    #[test]
    fn id_order_is_numeric() {
        let mut v = vec!["1.10", "1.2", "2.1.1", "1.21"];
        v.sort_by(|a, b| id_order(a, b));
        assert_eq!(v, ["1.2", "1.10", "1.21", "2.1.1"]);
    }

    #[test]
    fn with_dependencies_adds_what_the_chosen_controls_need() {
        let c = cat();
        let ids = |with_dependencies: bool, controls: &[&str]| -> Vec<String> {
            c.resolve(&Selection {
                benchmark: Benchmark::V5_0,
                controls: controls.iter().map(|s| s.to_string()).collect(),
                with_dependencies,
                ..Default::default()
            })
            .unwrap()
            .iter()
            .map(|e| e.id_in(Benchmark::V5_0).unwrap().to_string())
            .collect()
        };
        assert_eq!(ids(false, &["3.2"]), ["3.2"]);
        // The dependency comes first: the plan and apply follow catalog order.
        assert_eq!(ids(true, &["3.2"]), ["3.1", "3.2"]);
        assert_eq!(ids(true, &["4.3", "3.8"]), ["3.1", "3.8", "4.3"]);
        assert_eq!(ids(true, &["5.1.1"]), ["5.1.1"]);
    }

    #[test]
    fn dependencies_name_controls_that_exist() {
        for e in &cat().entries {
            for d in &e.depends_on {
                assert!(
                    cat().by_slug(d).is_some(),
                    "{}: unknown dependency {d}",
                    e.slug
                );
                assert_ne!(d, &e.slug);
            }
        }
    }
}
