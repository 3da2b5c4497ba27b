//! The human plan: one block per change, folded across regions, wrapped to the terminal,
//! coloured when the terminal allows.

use console::style;

use super::fold::{fold, Group};
use super::wrap::{output_width, wrap, wrap_styled};
use super::{field_diff, show_value};
use crate::plan::{Action, Item, Plan, Status};

/// How the text plan is laid out.
#[derive(Debug, Clone, Copy)]
pub struct TextOptions {
    /// Columns to wrap at.
    pub width: usize,
    /// Every item on its own, every unchanged field listed (`--expand`).
    pub expand: bool,
    /// Compliant items in full (`--show-compliant`).
    pub show_compliant: bool,
}

impl TextOptions {
    /// For standard output: the terminal's width, else `COLUMNS`, else 100.
    pub fn for_output(expand: bool, show_compliant: bool) -> TextOptions {
        TextOptions {
            width: output_width(),
            expand,
            show_compliant,
        }
    }
}

/// The plan's marker symbol for an item; the README's legend lists each.
pub fn symbol(status: Status, action: Option<Action>) -> &'static str {
    match (status, action) {
        (Status::Change, Some(Action::Create)) => "+",
        (Status::Change, Some(Action::Delete)) => "-",
        (Status::Change, _) => "~",
        (Status::Compliant, _) => "✓",
        (Status::Manual, _) => "!",
        (Status::Unknown, _) => "?",
        (Status::Skipped, _) => "·",
        (Status::Error, _) => "x",
        (Status::NotImplemented, _) => "-",
        (Status::Blocked, _) => "…",
        (Status::Excepted, _) => "⊘",
    }
}

fn marker(item: &Item) -> console::StyledObject<&'static str> {
    let s = style(symbol(item.finding.status, item.finding.action));
    match (item.finding.status, item.finding.action) {
        (Status::Change, Some(Action::Create)) => s.green().bold(),
        (Status::Change, Some(Action::Delete)) => s.red().bold(),
        (Status::Change, _) => s.yellow().bold(),
        (Status::Compliant, _) => s.green(),
        (Status::Manual, _) => s.magenta().bold(),
        (Status::Unknown, _) => s.dim(),
        (Status::Skipped, _) => s.dim(),
        (Status::Error, _) => s.red().bold(),
        (Status::NotImplemented, _) => s.dim(),
        (Status::Blocked, _) => s.yellow().bold(),
        (Status::Excepted, _) => s.cyan(),
    }
}

/// The status of an item in words: the same in the text plan's count line, markdown and
/// docs/formats.md (which maps them to the JSON values).
pub fn status_label(status: Status) -> &'static str {
    match status {
        Status::Change => "to change",
        Status::Compliant => "compliant",
        Status::Manual => "manual action",
        Status::Unknown => "undetermined",
        Status::Skipped => "skipped",
        Status::Error => "could not be read",
        Status::NotImplemented => "not covered by cis-fix yet",
        Status::Blocked => "waiting for another change",
        Status::Excepted => "excepted",
    }
}

/// An excepted item's entry in words: `until 2027-03-31, owner web-team: public website (FILE:3)`.
pub fn exception_words(item: &Item) -> String {
    match &item.finding.exception {
        Some(e) => format!(
            "{}, owner {}: {} ({})",
            e.expires
                .as_deref()
                .map(|d| format!("until {d}"))
                .unwrap_or_else(|| "permanent".into()),
            e.owner,
            e.reason,
            e.source
        ),
        None => "no entry recorded".into(),
    }
}

/// The exceptions file's warnings: expired entries (they except nothing any more) and
/// entries that matched nothing in the plan.
pub fn exception_warnings(plan: &Plan) -> Vec<String> {
    let Some(r) = &plan.exceptions else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in &r.expired {
        out.push(format!(
            "warning: exception expired on {} ({}: {}, owner {}): it no longer excepts anything; renew or remove it",
            e.expires.as_deref().unwrap_or("?"),
            e.source,
            e.matches,
            e.owner
        ));
    }
    for e in &r.unused {
        out.push(format!(
            "warning: exception unused ({}: {}, owner {}): it matches no target of this plan",
            e.source, e.matches, e.owner
        ));
    }
    if let Some(why) = &r.ou_unknown {
        out.push(format!(
            "warning: exceptions naming an OU (ou = ...) match nothing in account {}: {why}",
            plan.account.id
        ));
    }
    out
}

pub use crate::plan::plural;

/// Lines joined into `s`, each ending in a newline.
fn push_lines(s: &mut String, lines: Vec<String>) {
    for l in lines {
        s.push_str(&l);
        s.push('\n');
    }
}

/// What the text has already shown, so that later blocks refer back instead of repeating it
/// (unless `--expand`): the manual steps of a control, each note, and the changed fields and
/// calls of the last block of each control.
#[derive(Default)]
struct Seen {
    /// The plan's regions, for `[all 17 regions]` (none for a list of changes).
    regions: Vec<String>,
    /// Every note of every change, as for one item on its own (the guide).
    all_notes: bool,
    steps: Vec<String>,
    notes: Vec<String>,
    /// control → (its changed fields, its calls), as [`change_keys`] gives them.
    last: Vec<(String, Vec<String>, String)>,
}

impl Seen {
    fn last_of(&self, control: &str) -> Option<&(String, Vec<String>, String)> {
        self.last.iter().rev().find(|(c, _, _)| c == control)
    }
}

/// One item, on its own (the guide, refusals). `detail` adds the field diff, calls and notes.
pub fn item_text(item: &Item, detail: bool) -> String {
    let opts = TextOptions::for_output(false, false);
    let g = Group { items: vec![item] };
    let mut s = String::new();
    let mut seen = Seen {
        all_notes: true,
        ..Default::default()
    };
    block(&mut s, &g, &opts, detail, &mut seen);
    s
}

/// Items folded across regions, each group with its full diff: what `apply` shows before it
/// asks. Every note is on screen (each once): a batch is confirmed with its costs and what
/// undo keeps in view, not behind `--expand` as in the plan.
pub fn items_text(items: &[&Item], regions: &[String], opts: &TextOptions) -> String {
    let mut s = String::new();
    let mut seen = Seen {
        all_notes: true,
        regions: regions.to_vec(),
        ..Default::default()
    };
    for g in fold(items, opts.expand) {
        block(&mut s, &g, opts, true, &mut seen);
    }
    s
}

/// Whether a change is asked about on its own (destructive, irreversible, in use, cautioned):
/// its notes carry its blast radius, so the folded view always shows them.
fn asked_apart(f: &crate::plan::Finding) -> bool {
    f.destructive || !f.reversible || !f.in_use.is_empty() || !f.caution.is_empty()
}

/// The changed fields of a change and its calls, with the region and resource ids taken out:
/// what a later block of the same control is compared with.
fn change_keys(item: &Item, t: &dyn Fn(&str) -> String) -> (Vec<String>, String) {
    let f = &item.finding;
    let fields = field_diff(&f.before, &f.after)
        .into_iter()
        .filter(super::FieldChange::changed)
        .map(|c| t(&format!("{}={}>{}", c.field, c.before, c.after)))
        .collect();
    (fields, t(&calls_list(f)))
}

/// One group. A group of several items is drawn from its first, with its region shown as
/// `<region>` in the text and the regions listed in the header.
fn block(s: &mut String, g: &Group, opts: &TextOptions, detail: bool, seen: &mut Seen) {
    let item = g.first();
    let f = &item.finding;
    let w = opts.width;
    let many = g.items.len() > 1;
    // A group of several is shown through its first item with what differs between them
    // (the region, resource ids) as `<region>` and `<id>`.
    let t = |x: &str| {
        if many {
            super::fold::normalize(x, item.region.as_deref())
        } else {
            x.to_string()
        }
    };
    let same_target = g.items.iter().all(|i| i.finding.target == f.target);
    let target = if same_target {
        f.target.clone()
    } else {
        format!(
            "{} and {} like it",
            f.target,
            plural(g.items.len() - 1, "more", "more")
        )
    };
    let where_ = if many {
        g.where_label(&seen.regions)
    } else {
        format!("[{}]", item.where_())
    };
    let first = format!("  {} {:<6} ", marker(item), item.id);
    let mut head = wrap_styled(
        &format!("{}  {target} {where_}", item.control),
        w,
        &first,
        11,
        str::to_string,
    );
    if let Some(l) = head.first_mut() {
        *l = l.replacen(&item.control, &style(&item.control).bold().to_string(), 1);
    }
    push_lines(s, head);
    s.push_str(&wrap(&t(&f.summary), w, "      ", 6));
    if !detail {
        return;
    }
    let folded = !opts.expand;
    // Notes: each is shown once (a repeat refers back). Folded, a change that is not asked
    // about on its own shows only how many notes it has; --expand shows them all.
    let mut notes: Vec<String> = Vec::new();
    let (mut notes_hidden, mut notes_repeated) = (0, 0);
    for n in &f.notes {
        let n = t(n);
        let hide = folded && !seen.all_notes && f.status == Status::Change && !asked_apart(f);
        if hide {
            notes_hidden += 1;
        } else if folded && seen.notes.contains(&n) {
            notes_repeated += 1;
        } else {
            if !seen.notes.contains(&n) {
                seen.notes.push(n.clone());
            }
            notes.push(n);
        }
    }
    if f.status == Status::Change {
        let (fields, calls_key) = change_keys(item, &t);
        // A later block of the same control says what differs from the one above it.
        let above = if folded {
            seen.last_of(&item.control).cloned()
        } else {
            None
        };
        let same_fields: Vec<String> = above
            .as_ref()
            .map(|(_, a, _)| fields.iter().filter(|k| a.contains(k)).cloned().collect())
            .unwrap_or_default();
        diff_lines(s, item, opts, &t, &same_fields);
        let same_calls = above.as_ref().is_some_and(|(_, _, c)| *c == calls_key);
        seen.last.push((item.control.clone(), fields, calls_key));
        let calls = if same_calls {
            "as above".to_string()
        } else {
            calls_list(f)
        };
        let risk = format!("{:?}", f.risk).to_lowercase();
        let rev = if f.reversible {
            "reversible"
        } else {
            "IRREVERSIBLE"
        };
        let mut more = String::new();
        if notes_hidden > 0 {
            more += &format!(" · {} (--expand)", plural(notes_hidden, "note", "notes"));
        }
        if notes_repeated > 0 {
            more += &format!(" · {} as above", plural(notes_repeated, "note", "notes"));
        }
        let mut lines = wrap_styled(
            &format!("calls: {calls} · risk: {risk} · {rev}{more}"),
            w,
            "      ",
            13,
            str::to_string,
        );
        if let Some(l) = lines.last_mut() {
            let styled = if f.reversible {
                style(rev).green().to_string()
            } else {
                style(rev).red().bold().to_string()
            };
            *l = l.replacen(rev, &styled, 1);
        }
        push_lines(s, lines);
        if !f.caution.is_empty() {
            push_lines(
                s,
                wrap_styled(
                    &format!(
                        "ASKED SEPARATELY, even with --yes (which skips it unless --allow-destructive): {}",
                        t(&f.caution.join("; "))
                    ),
                    w,
                    "      ",
                    8,
                    |x| style(x).red().bold().to_string(),
                ),
            );
        }
        if !f.in_use.is_empty() {
            push_lines(
                s,
                wrap_styled(
                    &format!(
                        "IN USE — changing it affects {} (asked separately; --yes needs --force-in-use):",
                        plural(f.in_use.len(), "item", "items")
                    ),
                    w,
                    "      ",
                    8,
                    |x| style(x).red().bold().to_string(),
                ),
            );
            for u in &f.in_use {
                s.push_str(&wrap(u, w, "        - ", 10));
            }
        }
        // The caution line already says a destructive change is asked separately.
        let said = f.caution.iter().any(|c| c.contains("destructive"));
        if f.destructive && !(folded && said) {
            push_lines(
                s,
                wrap_styled(
                    "destructive: removes or replaces existing configuration (asked separately)",
                    w,
                    "      ",
                    8,
                    |x| style(x).red().to_string(),
                ),
            );
        }
    }
    if f.status == Status::Blocked {
        push_lines(
            s,
            wrap_styled(
                &format!(
                    "waits for: {} (select it too, or pass --with-dependencies; apply plans this again once it is done)",
                    f.needs.join(", ")
                ),
                w,
                "      ",
                8,
                |x| style(x).yellow().to_string(),
            ),
        );
    }
    for n in &notes {
        s.push_str(&wrap(n, w, "      note: ", 12));
    }
    if notes_repeated > 0 && f.status != Status::Change {
        s.push_str(&wrap(
            &format!("({} as above)", plural(notes_repeated, "note", "notes")),
            w,
            "      ",
            6,
        ));
    }
    if !f.manual_steps.is_empty() {
        // Steps of a control are shown once; further groups of it (another reason) refer back.
        // An undetermined item's steps are conditional ("if it is not enabled"): --expand.
        if !opts.expand && f.status == Status::Unknown {
            s.push_str(&wrap(
                &format!(
                    "({} to check and fix it by hand: --expand shows them)",
                    plural(f.manual_steps.len(), "step", "steps")
                ),
                w,
                "      ",
                6,
            ));
        } else if !opts.expand && seen.steps.contains(&item.control) {
            s.push_str(&wrap("steps: as above", w, "      ", 6));
        } else {
            seen.steps.push(item.control.clone());
            for (i, step) in f.manual_steps.iter().enumerate() {
                let first = format!("      {}. ", i + 1);
                let hang = first.len();
                s.push_str(&wrap(&t(step), w, &first, hang));
            }
        }
    }
    if many && !same_target && opts.expand {
        for i in &g.items {
            s.push_str(&wrap(
                &format!("{} [{}]", i.finding.target, i.where_()),
                w,
                "        - ",
                10,
            ));
        }
    }
}

/// The calls of a change in order, repeats counted: `ec2:CreateNetworkAclEntry ×4`.
pub fn calls_list(f: &crate::plan::Finding) -> String {
    let mut out: Vec<(String, usize)> = Vec::new();
    for c in &f.calls {
        match out.last_mut() {
            Some((a, n)) if *a == c.action => *n += 1,
            _ => out.push((c.action.clone(), 1)),
        }
    }
    out.into_iter()
        .map(|(a, n)| if n == 1 { a } else { format!("{a} ×{n}") })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Blocked items waiting for the same controls, as one block: which controls wait, for what.
fn blocked_block(s: &mut String, items: &[&Item], opts: &TextOptions) {
    let first = items[0];
    let w = opts.width;
    let mut ids: Vec<String> = Vec::new();
    for i in items {
        if !ids.contains(&i.id) {
            ids.push(i.id.clone());
        }
    }
    push_lines(
        s,
        wrap_styled(
            &format!(
                "{} wait for {}",
                plural(ids.len(), "control", "controls"),
                first.finding.needs.join(", ")
            ),
            w,
            &format!("  {} {:<6} ", marker(first), ""),
            11,
            |x| style(x).bold().to_string(),
        ),
    );
    s.push_str(&wrap(
        &format!("{} (--expand lists each)", id_ranges(&ids)),
        w,
        "      ",
        6,
    ));
    push_lines(
        s,
        wrap_styled(
            "apply plans them again once it is done (select it too, or pass --with-dependencies)",
            w,
            "      ",
            6,
            |x| style(x).yellow().to_string(),
        ),
    );
}

/// Control ids with runs of three or more in a row as ranges: `3.2, 3.4, 4.1–4.15`.
fn id_ranges(ids: &[String]) -> String {
    let split = |id: &str| -> Option<(String, u32)> {
        let (head, last) = id.rsplit_once('.')?;
        Some((head.to_string(), last.parse().ok()?))
    };
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<&String> = Vec::new();
    let flush = |out: &mut Vec<String>, run: &mut Vec<&String>| {
        if run.len() >= 3 {
            out.push(format!("{}–{}", run[0], run[run.len() - 1]));
        } else {
            out.extend(run.iter().map(|s| s.to_string()));
        }
        run.clear();
    };
    for id in ids {
        let follows = match (run.last().and_then(|l| split(l)), split(id)) {
            (Some((h1, n1)), Some((h2, n2))) => h1 == h2 && n2 == n1 + 1,
            _ => false,
        };
        if !follows {
            flush(&mut out, &mut run);
        }
        run.push(id);
    }
    flush(&mut out, &mut run);
    out.join(", ")
}

/// The field diff of a change: changed fields one by one (lists element by element). Folded
/// (not `--expand`): the unchanged fields are left out, three or more fields set from nothing
/// are one `sets:` paragraph, and fields changed as in the block above (`same`, keys from
/// [`change_keys`]) are referred to. `--expand` lists every field, the unchanged ones too.
fn diff_lines(
    s: &mut String,
    item: &Item,
    opts: &TextOptions,
    t: &dyn Fn(&str) -> String,
    same: &[String],
) {
    let f = &item.finding;
    let w = opts.width;
    let folded = !opts.expand;
    let diff = field_diff(&f.before, &f.after);
    let key = |c: &super::FieldChange| t(&format!("{}={}>{}", c.field, c.before, c.after));
    let is_set =
        |c: &super::FieldChange| c.before.is_null() && !c.after.is_null() && !c.after.is_object();
    let sets = diff
        .iter()
        .filter(|c| is_set(c) && !same.contains(&key(c)))
        .count();
    let mut set_pairs: Vec<String> = Vec::new();
    let mut as_above = 0;
    let mut shown = 0;
    for c in &diff {
        let name = if c.field.is_empty() {
            "value".to_string()
        } else {
            c.field.clone()
        };
        let first = format!("        {name:<30} ");
        if folded && c.changed() && same.contains(&key(c)) {
            as_above += 1;
        } else if folded && c.changed() && sets >= 3 && is_set(c) {
            set_pairs.push(format!("{name}={}", t(&show_value(&c.after))));
        } else if c.changed() && c.before.is_array() && c.after.is_array() {
            shown += 1;
            // Lists (security-group rules, …): one line per element added or removed.
            let kept = c
                .before
                .as_array()
                .map(|b| {
                    b.iter()
                        .filter(|x| c.after.as_array().is_some_and(|a| a.contains(x)))
                        .count()
                })
                .unwrap_or(0);
            for (n, line) in super::list_changes(&c.before, &c.after)
                .into_iter()
                .enumerate()
            {
                let label = if n == 0 {
                    first.clone()
                } else {
                    " ".repeat(39)
                };
                let red = line.starts_with('-');
                push_lines(
                    s,
                    wrap_styled(&t(&line), w, &label, 41, |x| {
                        if red {
                            style(x).red().to_string()
                        } else {
                            style(x).green().to_string()
                        }
                    }),
                );
            }
            if kept > 0 {
                push_lines(
                    s,
                    vec![format!(
                        "        {}",
                        style(format!("{:<30} {kept} unchanged", "")).dim()
                    )],
                );
            }
        } else if c.changed() {
            shown += 1;
            let (b, a) = (t(&show_value(&c.before)), t(&show_value(&c.after)));
            let mut lines = wrap_styled(&format!("{b} → {a}"), w, &first, 39, str::to_string);
            if lines.len() == 1 {
                lines[0] = format!("{first}{} → {}", style(b).red(), style(a).green());
            }
            push_lines(s, lines);
        } else if opts.expand {
            push_lines(
                s,
                wrap_styled(
                    &format!("{} (unchanged)", t(&show_value(&c.before))),
                    w,
                    &first,
                    39,
                    |x| style(x).dim().to_string(),
                ),
            );
        }
    }
    if !set_pairs.is_empty() {
        shown += 1;
        push_lines(
            s,
            wrap_styled(
                &format!("sets: {}", set_pairs.join(", ")),
                w,
                "        ",
                14,
                |x| style(x).green().to_string(),
            ),
        );
    }
    if as_above > 0 {
        let text = if shown == 0 {
            "changes: as above".to_string()
        } else {
            format!(
                "(and {} as above)",
                plural(as_above, "other change", "other changes")
            )
        };
        push_lines(
            s,
            wrap_styled(&text, w, "        ", 10, |x| style(x).dim().to_string()),
        );
    }
}

/// The parameters a plan was made with, as `key=value` pairs (the benchmark and the regions
/// are in the header; the controls are the plan's items).
pub fn params_line(params: &crate::remediations::Params) -> String {
    let shown = crate::remediations::Params {
        benchmark: None,
        run_regions: Vec::new(),
        run_controls: Vec::new(),
        ..params.clone()
    };
    let Ok(table) = toml::Table::try_from(&shown) else {
        return String::new();
    };
    table
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn summary_line(plan: &Plan) -> String {
    let c = plan.counts();
    let mut parts = vec![
        format!("{} to change", c.change),
        format!("{} compliant", c.compliant),
    ];
    if c.blocked > 0 {
        parts.push(format!("{} waiting for another change", c.blocked));
    }
    if c.manual > 0 {
        parts.push(format!(
            "{} manual action",
            plural(c.manual, "needs", "need")
        ));
    }
    if c.unknown > 0 {
        parts.push(format!("{} undetermined", c.unknown));
    }
    if c.skipped > 0 {
        parts.push(format!("{} skipped", c.skipped));
    }
    if c.error > 0 {
        parts.push(format!("{} could not be read", c.error));
    }
    if c.not_implemented > 0 {
        parts.push(format!("{} not covered by cis-fix yet", c.not_implemented));
    }
    if c.excepted > 0 {
        parts.push(format!("{} excepted", c.excepted));
    }
    format!("Plan: {}.", parts.join(", "))
}

pub fn plan_text(plan: &Plan, opts: &TextOptions) -> String {
    let w = opts.width;
    let mut s = String::new();
    let regions = if plan.regions.is_empty() {
        "global controls only".to_string()
    } else if plan.regions.len() > 4 {
        plural(plan.regions.len(), "region", "regions")
    } else {
        plan.regions.join(", ")
    };
    // The caller on its own line: an ARN is long, and the header stays one line.
    let head = format!(
        "cis-fix plan for account {} · {} · {regions}",
        plan.account.id, plan.benchmark,
    );
    let mut lines = wrap_styled(&head, w, "", 2, str::to_string);
    if let Some(l) = lines.first_mut() {
        *l = l.replacen("cis-fix plan", &style("cis-fix plan").bold().to_string(), 1);
    }
    push_lines(&mut s, lines);
    s.push_str(&wrap(&plan.account.caller_arn, w, "  caller: ", 10));
    s.push('\n');
    let settings = params_line(&plan.params);
    if !settings.is_empty() {
        s.push_str(&wrap(&settings, w, "  parameters: ", 4));
        s.push('\n');
    }
    let others: Vec<&Item> = plan
        .items
        .iter()
        .filter(|i| {
            !matches!(
                i.finding.status,
                Status::Compliant | Status::NotImplemented | Status::Excepted
            )
        })
        .collect();
    let groups = fold(&others, opts.expand);
    // Blocked items fold across controls by what they wait for (unless --expand).
    let mut waits: Vec<(Vec<String>, Vec<&Item>)> = Vec::new();
    if !opts.expand {
        for i in others
            .iter()
            .filter(|i| i.finding.status == Status::Blocked)
        {
            match waits.iter_mut().find(|(n, _)| *n == i.finding.needs) {
                Some((_, v)) => v.push(i),
                None => waits.push((i.finding.needs.clone(), vec![i])),
            }
        }
    }
    let mut seen = Seen {
        regions: plan.regions.clone(),
        ..Default::default()
    };
    // Folded, the compliant controls are one line at the end (--expand: a line each, in place).
    let mut compliant: Vec<&str> = Vec::new();
    let mut not_covered = Vec::new();
    let mut shown_compliant: Vec<&str> = Vec::new();
    let mut shown_excepted: Vec<&str> = Vec::new();
    for item in &plan.items {
        match item.finding.status {
            Status::NotImplemented => not_covered.push(item.id.clone()),
            Status::Excepted => {
                // Excepted targets of one control fold into one line with their count
                // (--expand lists each with its entry).
                let same: Vec<&Item> = plan
                    .items
                    .iter()
                    .filter(|i| i.control == item.control && i.finding.status == Status::Excepted)
                    .collect();
                if opts.expand || same.len() == 1 {
                    let first = format!("  {} {:<6} ", marker(item), item.id);
                    let text = format!(
                        "{}  {} [{}]: excepted ({})",
                        item.control,
                        item.finding.target,
                        item.where_(),
                        exception_words(item)
                    );
                    push_lines(&mut s, wrap_styled(&text, w, &first, 11, str::to_string));
                } else if !shown_excepted.contains(&item.control.as_str()) {
                    shown_excepted.push(&item.control);
                    let mut sources: Vec<String> = same
                        .iter()
                        .filter_map(|i| i.finding.exception.as_ref())
                        .map(|e| e.source.clone())
                        .collect();
                    sources.sort();
                    sources.dedup();
                    let first = format!("  {} {:<6} ", marker(item), item.id);
                    let text = format!(
                        "{}  {} excepted ({}; --expand lists them)",
                        item.control,
                        plural(same.len(), "target", "targets"),
                        if sources.len() == 1 {
                            exception_words(item)
                        } else {
                            format!("{} entries: {}", sources.len(), sources.join(", "))
                        }
                    );
                    push_lines(&mut s, wrap_styled(&text, w, &first, 11, str::to_string));
                }
            }
            Status::Compliant if opts.show_compliant => {
                let g = Group { items: vec![item] };
                block(&mut s, &g, opts, true, &mut seen);
            }
            Status::Compliant if !opts.expand => {
                if !compliant.contains(&item.id.as_str()) {
                    compliant.push(&item.id);
                }
            }
            Status::Compliant => {
                // Many compliant targets of one control (a group per VPC, a region each)
                // fold into one line; --show-compliant lists them.
                let same: Vec<&Item> = plan
                    .items
                    .iter()
                    .filter(|i| i.control == item.control && i.finding.status == Status::Compliant)
                    .collect();
                if same.len() <= 3 {
                    let first = format!("  {} {:<6} ", marker(item), item.id);
                    let text = format!(
                        "{}  {} [{}]",
                        item.control,
                        item.finding.target,
                        item.where_()
                    );
                    push_lines(&mut s, wrap_styled(&text, w, &first, 11, str::to_string));
                } else if !shown_compliant.contains(&item.control.as_str()) {
                    shown_compliant.push(&item.control);
                    let mut regions: Vec<&str> = same.iter().map(|i| i.where_()).collect();
                    regions.dedup();
                    let first = format!("  {} {:<6} ", marker(item), item.id);
                    let text = format!(
                        "{}  {} compliant in {}",
                        item.control,
                        plural(same.len(), "target", "targets"),
                        plural(regions.len(), "region", "regions")
                    );
                    let mut lines = wrap_styled(&text, w, &first, 11, str::to_string);
                    if let Some(l) = lines.first_mut() {
                        *l = l.replacen(&item.control, &style(&item.control).bold().to_string(), 1);
                    }
                    push_lines(&mut s, lines);
                }
            }
            Status::Blocked if !opts.expand => {
                if let Some((_, v)) = waits.iter().find(|(_, v)| v[0].index == item.index) {
                    blocked_block(&mut s, v, opts);
                }
            }
            _ => {
                if let Some(g) = groups.iter().find(|g| g.first().index == item.index) {
                    block(&mut s, g, opts, true, &mut seen);
                }
            }
        }
    }
    if !compliant.is_empty() {
        let n = plan
            .items
            .iter()
            .filter(|i| i.finding.status == Status::Compliant)
            .count();
        let text = format!(
            "{} compliant, of {}: {} (--show-compliant lists them)",
            plural(n, "target", "targets"),
            plural(compliant.len(), "control", "controls"),
            compliant.join(", ")
        );
        let first = format!("  {} {:<6} ", style("✓").green(), "");
        push_lines(&mut s, wrap_styled(&text, w, &first, 11, str::to_string));
    }
    if !not_covered.is_empty() {
        // Dim `-`, like a not-covered item: one line, under the compliant one.
        let first = format!("  {} {:<6} ", style("-").dim(), "");
        push_lines(
            &mut s,
            wrap_styled(
                &format!(
                    "{} not covered by cis-fix yet: {} (see `cis-fix controls`)",
                    plural(not_covered.len(), "control", "controls"),
                    not_covered.join(", ")
                ),
                w,
                &first,
                11,
                |x| style(x).dim().to_string(),
            ),
        );
    }
    let warnings = exception_warnings(plan);
    if !warnings.is_empty() {
        s.push('\n');
        for l in warnings {
            push_lines(
                &mut s,
                wrap_styled(&l, w, "  ", 4, |x| style(x).yellow().to_string()),
            );
        }
    }
    s.push('\n');
    s.push_str(&wrap(
        &format!("{} (AWS calls: {})", summary_line(plan), plan.api_calls),
        w,
        "",
        2,
    ));
    s
}
#[cfg(test)]
mod params_tests {
    use super::params_line;
    use crate::remediations::Params;

    #[test]
    fn shows_the_parameters_set_but_not_the_benchmark() {
        let p = Params {
            alarm_email: Some("sec@example.com".into()),
            log_retention_days: Some(90),
            benchmark: Some(crate::catalog::Benchmark::V5_0),
            ..Default::default()
        };
        assert_eq!(
            params_line(&p),
            "alarm_email=\"sec@example.com\", log_retention_days=90"
        );
        assert_eq!(params_line(&Params::default()), "");
    }
}

#[cfg(test)]
pub(crate) mod fold_tests {
    use super::*;
    use crate::plan::{ApiCall, Finding, Risk};
    use serde_json::json;

    const REGIONS: [&str; 13] = [
        "eu-west-1",
        "us-east-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ap-south-1",
        "ap-northeast-1",
        "sa-east-1",
        "ca-central-1",
    ];

    fn item(index: usize, id: &str, control: &str, region: &str, f: Finding) -> Item {
        Item {
            index,
            control: control.into(),
            id: id.into(),
            title: "t".into(),
            region: Some(region.into()),
            finding: f,
        }
    }

    /// A plan over 13 regions: EBS encryption off everywhere, the default group of each
    /// region's VPC open (different ids), Macie unreadable everywhere, one group in use.
    pub(crate) fn multi_region_plan() -> Plan {
        let mut items = Vec::new();
        for r in REGIONS {
            let f = Finding::change(
                "EBS encryption by default",
                "new EBS volumes are not encrypted by default",
                Action::Update,
                json!({"EbsEncryptionByDefault": false}),
                json!({"EbsEncryptionByDefault": true}),
                vec![ApiCall::new("ec2:EnableEbsEncryptionByDefault", json!({}))],
            )
            .with_note(
                "Applies to volumes created from now on; existing volumes stay as they are.",
            );
            items.push(item(
                items.len() + 1,
                "5.1.1",
                "ebs-default-encryption",
                r,
                f,
            ));
        }
        for (n, r) in REGIONS.iter().enumerate() {
            let sg = format!("sg-0a35c7f3bc6166{n:03x}");
            let mut f = Finding::change(
                format!("security group {sg} (default, vpc-1801aa3366e9c{n:03x})"),
                "1 rule: egress all traffic to 0.0.0.0/0",
                Action::Update,
                json!({"GroupId": sg, "Rules": [{"CidrIpv4": "0.0.0.0/0", "Protocol": "-1"}]}),
                json!({"GroupId": sg, "Rules": []}),
                vec![ApiCall::new(
                    "ec2:RevokeSecurityGroupEgress",
                    json!({"GroupId": sg}),
                )],
            )
            .with_risk(Risk::Medium);
            f.destructive = true;
            if n == 3 {
                f.in_use = vec!["eni-0123456789abcdef0 (instance i-0123456789abcdef0)".into()];
            }
            items.push(item(
                items.len() + 1,
                "5.5",
                "default-security-group-closed",
                r,
                f,
            ));
        }
        for r in REGIONS {
            let f = Finding::unknown(
                "Amazon Macie",
                format!("could not read the Macie status in {r} (macie2:GetMacieSession failed: HTTP 500)"),
            );
            items.push(item(
                items.len() + 1,
                "2.1.3",
                "s3-data-classification",
                r,
                f,
            ));
        }
        Plan {
            schema_version: crate::plan::PLAN_SCHEMA_VERSION,
            cis_fix_version: "test".into(),
            created_at: "2026-11-30T00:00:00Z".into(),
            account: crate::aws::Account {
                id: "210987654321".into(),
                caller_arn: "arn:aws:sts::210987654321:assumed-role/demo/cis-fix-demo".into(),
                partition: "aws".into(),
            },
            benchmark: crate::catalog::Benchmark::V5_0,
            regions: REGIONS.iter().map(|r| r.to_string()).collect(),
            params: Default::default(),
            items,
            api_calls: 0,
            exceptions: None,
        }
    }

    fn opts(width: usize, expand: bool) -> TextOptions {
        TextOptions {
            width,
            expand,
            show_compliant: false,
        }
    }

    /// apply's list before its question labels regions as the plan does.
    #[test]
    fn the_apply_list_names_all_regions_like_the_plan() {
        let plan = multi_region_plan();
        let items: Vec<&Item> = plan.items.iter().collect();
        let text = console::strip_ansi_codes(&items_text(&items, &plan.regions, &opts(100, false)))
            .into_owned();
        assert!(
            text.contains("EBS encryption by default [all 13 regions]"),
            "{text}"
        );
        assert!(!text.contains(" +11]"), "{text}");
    }

    #[test]
    fn identical_findings_fold_into_one_block_with_the_regions_listed() {
        let text = console::strip_ansi_codes(&plan_text(&multi_region_plan(), &opts(100, false)))
            .into_owned();
        assert_eq!(text.matches("ebs-default-encryption").count(), 1, "{text}");
        assert!(
            text.contains("EBS encryption by default [all 13 regions]"),
            "{text}"
        );
        // Different group ids fold too; the one in use keeps its own block and blast radius.
        assert_eq!(
            text.matches("default-security-group-closed").count(),
            2,
            "{text}"
        );
        assert!(
            text.contains("and 11 more like it [12 regions: all but eu-west-3]"),
            "{text}"
        );
        assert!(
            text.contains("IN USE — changing it affects 1 item "),
            "{text}"
        );
        assert!(text.contains("eni-0123456789abcdef0"), "{text}");
        // Undetermined with the same reason: one entry per control, region as <region>.
        assert_eq!(text.matches("s3-data-classification").count(), 1, "{text}");
        assert!(text.contains("Macie status in <region>"), "{text}");
        // The count line still counts every item.
        assert!(
            text.contains("Plan: 26 to change, 0 compliant, 13 undetermined."),
            "{text}"
        );
    }

    #[test]
    fn expand_keeps_every_item() {
        let text = console::strip_ansi_codes(&plan_text(&multi_region_plan(), &opts(100, true)))
            .into_owned();
        assert_eq!(text.matches("ebs-default-encryption").count(), 13);
        assert_eq!(text.matches("default-security-group-closed").count(), 13);
        assert_eq!(text.matches("s3-data-classification").count(), 13);
        assert!(text.contains("GroupId                        sg-0a35c7f3bc6166000 (unchanged)"));
    }

    #[test]
    fn every_line_fits_the_width_and_nothing_is_cut() {
        let mut plan = multi_region_plan();
        // A long value with no spaces (a policy as JSON) and a long note.
        let policy = json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": ["arn:aws:s3:::demo-data-210987654321", "arn:aws:s3:::demo-data-210987654321/*"]}]});
        plan.items[0].finding.after =
            json!({"EbsEncryptionByDefault": true, "Policy": policy.to_string()});
        plan.items[0].finding.notes.push("word ".repeat(60));
        for width in [80, 100] {
            for expand in [false, true] {
                let text =
                    console::strip_ansi_codes(&plan_text(&plan, &opts(width, expand))).into_owned();
                for l in text.lines() {
                    assert!(
                        console::measure_text_width(l) <= width,
                        "{width} columns: {l:?}"
                    );
                }
                // The policy is all there once the wrapped lines are joined back.
                let joined: String = text.lines().map(str::trim).collect();
                assert!(joined.contains(&policy.to_string()), "{width}: {text}");
            }
        }
    }

    #[test]
    fn ids_run_into_ranges() {
        let ids: Vec<String> = [
            "3.2", "3.4", "3.5", "3.8", "3.9", "4.1", "4.2", "4.3", "4.10", "4.11",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            id_ranges(&ids),
            "3.2, 3.4, 3.5, 3.8, 3.9, 4.1–4.3, 4.10, 4.11"
        );
        let many: Vec<String> = (1..=15).map(|n| format!("4.{n}")).collect();
        assert_eq!(id_ranges(&many), "4.1–4.15");
    }

    /// The second fold: unchanged fields, notes of changes not asked about on their own, a
    /// later block's fields and calls that are as above, and the compliant controls are
    /// referred to in the folded view; --expand shows each.
    #[test]
    fn repeats_are_referred_to_and_expand_shows_them() {
        let mut plan = multi_region_plan();
        // A second EBS block (another summary) with the same change and a repeated note.
        let mut other = plan.items[0].clone();
        other.index = 100;
        other.region = Some("eu-south-1".into());
        other.finding.summary = "another summary".into();
        other.finding.before = json!({"EbsEncryptionByDefault": false, "KmsKeyId": null});
        other.finding.after = json!({"EbsEncryptionByDefault": true, "KmsKeyId": "alias/aws/ebs"});
        plan.items.insert(13, other);
        // A creation of three fields, and a compliant item.
        plan.items[0].finding.before = json!({"A": null, "B": null, "C": null, "Same": 1});
        plan.items[0].finding.after = json!({"A": "x", "B": "y", "C": "z", "Same": 1});
        let mut ok = plan.items[1].clone();
        ok.finding.status = Status::Compliant;
        ok.id = "1.3".into();
        ok.control = "root-no-access-keys".into();
        plan.items.push(ok);
        for i in plan.items.iter_mut().filter(|i| i.id == "5.5") {
            i.finding.notes.push("Move its members first.".into());
        }
        let text = console::strip_ansi_codes(&plan_text(&plan, &opts(100, false))).into_owned();
        assert!(text.contains("sets: A=x, B=y, C=z"), "{text}");
        assert!(
            !text.contains("Same"),
            "unchanged fields are left out: {text}"
        );
        assert!(
            text.contains("risk: low · reversible · 1 note (--expand)"),
            "{text}"
        );
        assert!(!text.contains("note: Applies to volumes"), "{text}");
        assert!(
            text.contains("KmsKeyId                       (none) → alias/aws/ebs"),
            "{text}"
        );
        assert!(text.contains("calls: as above · risk: low"), "{text}");
        // The destructive groups, asked about on their own, keep their notes (once each).
        assert_eq!(
            text.matches("note: Move its members first.").count(),
            1,
            "{text}"
        );
        assert!(text.contains("· 1 note as above"), "{text}");
        assert!(
            text.contains("1 target compliant, of 1 control: 1.3"),
            "{text}"
        );
        let full = console::strip_ansi_codes(&plan_text(&plan, &opts(100, true))).into_owned();
        assert!(
            full.contains("Same                           1 (unchanged)"),
            "{full}"
        );
        assert!(full.contains("note: Applies to volumes"), "{full}");
        assert!(!full.contains("as above"), "{full}");
        assert!(full.contains("✓ 1.3    root-no-access-keys"), "{full}");
        // One item on its own (the guide) shows its notes.
        let one = console::strip_ansi_codes(&item_text(&plan.items[1], true)).into_owned();
        assert!(one.contains("note: Applies to volumes"), "{one}");
    }
}
