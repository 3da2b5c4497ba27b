//! CloudWatch Logs JSON filter patterns (`{ ($.eventName = X) || … }`): a small parser that
//! turns a pattern into a normal form, so two patterns the benchmark sources print differently
//! (spacing, quotes, the order of `||` or `&&` terms, redundant parentheses) compare equal,
//! and patterns with different logic do not.
//!
//! Only the JSON-pattern subset CIS uses is parsed: selectors `$.a.b[0]`, comparisons
//! `= != < > <= >=` against a quoted or bare value, `NOT EXISTS`, `EXISTS`, `IS NULL`,
//! `IS TRUE`, `IS FALSE`, parentheses, `&&` and `||`. A pattern outside it (a space-delimited
//! or plain-text pattern) does not parse; [`equivalent`] then compares the texts with the
//! whitespace outside quotes removed.
//!
//! CloudWatch does not document how `&&` and `||` bind against each other when mixed without
//! parentheses, and the CIS sources themselves disagree on such patterns (v5.0 4.1). So a
//! level that mixes them keeps its order (`A || B && C` is only equal to itself, modulo
//! formatting); only a level joined by one operator throughout is treated as a set.

use std::fmt;

/// A pattern in normal form. Its `Display` is the canonical text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// `selector op value`, or a unary test (`op` = `NOT EXISTS`, value empty).
    Cmp {
        selector: String,
        op: String,
        value: Option<String>,
    },
    /// Terms joined by `&&` only: sorted, duplicates removed.
    All(Vec<Node>),
    /// Terms joined by `||` only: sorted, duplicates removed.
    Any(Vec<Node>),
    /// Terms joined by a mix of `&&` and `||` without parentheses: kept in order.
    Mixed(Vec<Node>, Vec<Join>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    And,
    Or,
}

impl fmt::Display for Join {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Join::And => "&&",
            Join::Or => "||",
        })
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Cmp {
                selector,
                op,
                value,
            } => match value {
                Some(v) => write!(f, "({selector} {op} {v:?})"),
                None => write!(f, "({selector} {op})"),
            },
            Node::All(terms) | Node::Any(terms) => {
                let join = if matches!(self, Node::All(_)) {
                    " && "
                } else {
                    " || "
                };
                let parts: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
                write!(f, "({})", parts.join(join))
            }
            Node::Mixed(terms, joins) => {
                f.write_str("(")?;
                for (i, t) in terms.iter().enumerate() {
                    if i > 0 {
                        write!(f, " {} ", joins[i - 1])?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Parse a JSON filter pattern into its normal form.
pub fn parse(pattern: &str) -> Result<Node, String> {
    let mut p = Parser {
        s: pattern.as_bytes(),
        src: pattern,
        i: 0,
    };
    p.ws();
    p.expect(b'{')?;
    let node = p.expr()?;
    p.ws();
    p.expect(b'}')?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text after '}}' at {}", p.i));
    }
    Ok(node)
}

/// The text two patterns are compared by: the normal form when the pattern parses, else the
/// pattern with whitespace outside quotes removed.
pub fn canonical(pattern: &str) -> String {
    match parse(pattern) {
        Ok(n) => n.to_string(),
        Err(_) => format!("raw:{}", strip_ws(pattern)),
    }
}

/// Whether two patterns match the same events (as far as their form shows).
pub fn equivalent(a: &str, b: &str) -> bool {
    canonical(a) == canonical(b)
}

/// The top-level terms only one side has: (removed from `old`, added in `new`), each in
/// canonical form. Empty when either does not parse into a set of terms.
pub fn term_diff(old: &str, new: &str) -> (Vec<String>, Vec<String>) {
    let terms = |p: &str| -> Option<Vec<String>> {
        match parse(p).ok()? {
            Node::All(t) | Node::Any(t) | Node::Mixed(t, _) => {
                Some(t.iter().map(|n| n.to_string()).collect())
            }
            n @ Node::Cmp { .. } => Some(vec![n.to_string()]),
        }
    };
    match (terms(old), terms(new)) {
        (Some(o), Some(n)) => (
            o.iter().filter(|t| !n.contains(t)).cloned().collect(),
            n.iter().filter(|t| !o.contains(t)).cloned().collect(),
        ),
        _ => (Vec::new(), Vec::new()),
    }
}

fn strip_ws(s: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in s.chars() {
        if quoted {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = false;
            }
        } else if c == '"' {
            quoted = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at {}", c as char, self.i))
        }
    }

    fn starts_with(&self, t: &str) -> bool {
        self.s[self.i..].starts_with(t.as_bytes())
    }

    fn join(&mut self) -> Option<Join> {
        self.ws();
        if self.starts_with("&&") {
            self.i += 2;
            Some(Join::And)
        } else if self.starts_with("||") {
            self.i += 2;
            Some(Join::Or)
        } else {
            None
        }
    }

    /// Operands joined by `&&`/`||`, normalised.
    fn expr(&mut self) -> Result<Node, String> {
        let mut terms = vec![self.operand()?];
        let mut joins = Vec::new();
        while let Some(j) = self.join() {
            joins.push(j);
            terms.push(self.operand()?);
        }
        Ok(normalise(terms, joins))
    }

    fn operand(&mut self) -> Result<Node, String> {
        self.ws();
        if self.peek() == Some(b'(') {
            self.i += 1;
            let n = self.expr()?;
            self.ws();
            self.expect(b')')?;
            return Ok(n);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Node, String> {
        if self.peek() != Some(b'$') {
            return Err(format!("expected a selector at {}", self.i));
        }
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() || b"=!<>()&|}".contains(&c) {
                break;
            }
            self.i += 1;
        }
        let selector = self.src[start..self.i].to_string();
        if selector.len() < 2 {
            return Err(format!("empty selector at {start}"));
        }
        self.ws();
        for op in ["!=", "<=", ">=", "=", "<", ">"] {
            if self.starts_with(op) {
                self.i += op.len();
                let value = self.value()?;
                return Ok(Node::Cmp {
                    selector,
                    op: op.to_string(),
                    value: Some(value),
                });
            }
        }
        // Unary tests: keywords, case-insensitive.
        let rest = self.src[self.i..].to_ascii_uppercase();
        let words: Vec<&str> = rest.split_whitespace().take(2).collect();
        let unary = match words.as_slice() {
            ["NOT", w, ..] if w.starts_with("EXISTS") => Some("NOT EXISTS"),
            ["IS", w, ..] if w.starts_with("NULL") => Some("IS NULL"),
            ["IS", w, ..] if w.starts_with("TRUE") => Some("IS TRUE"),
            ["IS", w, ..] if w.starts_with("FALSE") => Some("IS FALSE"),
            [w, ..] if w.starts_with("EXISTS") => Some("EXISTS"),
            _ => None,
        };
        let Some(op) = unary else {
            return Err(format!("expected an operator at {}", self.i));
        };
        for kw in op.split(' ') {
            self.ws();
            self.i += kw.len();
        }
        Ok(Node::Cmp {
            selector,
            op: op.to_string(),
            value: None,
        })
    }

    /// A quoted string (quotes and escapes removed) or a bare token; the two compare alike.
    fn value(&mut self) -> Result<String, String> {
        self.ws();
        if self.peek() == Some(b'"') {
            self.i += 1;
            let mut out = String::new();
            let mut chars = self.src[self.i..].char_indices();
            while let Some((k, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        self.i += k + 1;
                        return Ok(out);
                    }
                    _ => out.push(c),
                }
            }
            return Err("unterminated string".into());
        }
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() || b"()}\"".contains(&c) || self.starts_with("&&") {
                break;
            }
            if self.starts_with("||") {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(format!("expected a value at {start}"));
        }
        Ok(self.src[start..self.i].to_string())
    }
}

fn normalise(mut terms: Vec<Node>, joins: Vec<Join>) -> Node {
    if terms.len() == 1 {
        return terms.remove(0);
    }
    let one = joins.iter().all(|j| *j == joins[0]);
    if !one {
        return Node::Mixed(terms, joins);
    }
    let and = joins[0] == Join::And;
    let mut flat = Vec::new();
    for t in terms {
        match t {
            Node::All(inner) if and => flat.extend(inner),
            Node::Any(inner) if !and => flat.extend(inner),
            other => flat.push(other),
        }
    }
    flat.sort_by_key(|n| n.to_string());
    flat.dedup();
    if and {
        Node::All(flat)
    } else {
        Node::Any(flat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_spacing_and_parentheses_do_not_matter() {
        // v6.0 (S2, quoted) vs v7.0 (S1, quotes stripped) of 4.1/5.1.
        let v6 = r#"{ ($.errorCode="*UnauthorizedOperation") || ($.errorCode ="AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }"#;
        let v7 = "{ ($.errorCode =*UnauthorizedOperation) || ($.errorCode =AccessDenied*) && ($.sourceIPAddress!=delivery.logs.amazonaws.com) && ($.eventName!=HeadBucket) }";
        assert!(equivalent(v6, v7));
        // Root usage: CIS text vs Security Hub CloudWatch.1 / ASR vs v7.0 unquoted.
        let cis = r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }"#;
        let sh = r#"{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}"#;
        let v7 = "{ $.userIdentity.type = Root && $.userIdentity.invokedBy NOT EXISTS && $.eventType != AwsServiceEvent }";
        assert!(equivalent(cis, sh));
        assert!(equivalent(cis, v7));
        // Extra parentheses around single terms and the whole pattern.
        assert!(equivalent(
            "{ (($.eventName = A)) || ($.eventName = B) }",
            "{(($.eventName=A)||($.eventName=B))}"
        ));
        // Console auth failures: the quoted phrase keeps its inner space.
        assert!(equivalent(
            r#"{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }"#,
            r#"{($.eventName=ConsoleLogin)&&($.errorMessage="Failed authentication")}"#
        ));
    }

    #[test]
    fn order_of_terms_joined_by_one_operator_does_not_matter() {
        assert!(equivalent(
            "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) }",
            "{ ($.eventName = DeleteTrail) || ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) }"
        ));
        assert!(equivalent(
            "{ ($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion)) }",
            "{ (($.eventName = ScheduleKeyDeletion) || ($.eventName = DisableKey)) && ($.eventSource = kms.amazonaws.com) }"
        ));
        // Nested groups of the same operator flatten.
        assert!(equivalent(
            "{ ($.a = 1) || (($.b = 2) || ($.c = 3)) }",
            "{ ($.c = 3) || ($.a = 1) || ($.b = 2) }"
        ));
    }

    #[test]
    fn different_logic_is_not_equivalent() {
        // 4.1 in v1.4 (|| exclusions) vs v5.0 (&& exclusions): the disputed v3.0 forms.
        let or_form = r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") || ($.sourceIPAddress!="delivery.logs.amazonaws.com") || ($.eventName!="HeadBucket") }"#;
        let and_form = r#"{ ($.errorCode ="*UnauthorizedOperation") || ($.errorCode ="AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }"#;
        let v12 =
            r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }"#;
        assert!(!equivalent(or_form, and_form));
        assert!(!equivalent(v12, and_form));
        assert!(!equivalent(v12, or_form));
        // The seed text's *UnauthorizedAccess* is another value.
        assert!(!equivalent(
            v12,
            r#"{($.errorCode="*UnauthorizedAccess*") || ($.errorCode="AccessDenied*")}"#
        ));
        // An added term (ModifySecurityGroupRules in v5.0 4.10).
        assert!(!equivalent(
            "{ ($.eventName = A) || ($.eventName = B) }",
            "{ ($.eventName = A) || ($.eventName = B) || ($.eventName = ModifySecurityGroupRules) }"
        ));
        // = vs !=, && vs ||, EXISTS vs NOT EXISTS.
        assert!(!equivalent("{ $.a = 1 }", "{ $.a != 1 }"));
        assert!(!equivalent(
            "{ $.a = 1 && $.b = 2 }",
            "{ $.a = 1 || $.b = 2 }"
        ));
        assert!(!equivalent("{ $.a NOT EXISTS }", "{ $.a EXISTS }"));
        // Route tables: audit form (eventSource && first term only) vs remediation form.
        assert!(!equivalent(
            "{ ($.eventSource = ec2.amazonaws.com) && ($.eventName = CreateRoute) || ($.eventName = ReplaceRoute) }",
            "{ ($.eventName = CreateRoute) || ($.eventName = ReplaceRoute) }"
        ));
    }

    #[test]
    fn mixed_operators_keep_their_order() {
        assert!(!equivalent(
            "{ $.a = 1 || $.b = 2 && $.c = 3 }",
            "{ $.b = 2 && $.c = 3 || $.a = 1 }"
        ));
        assert!(equivalent(
            "{ $.a = 1 || $.b = 2 && $.c = 3 }",
            r#"{($.a="1")||($.b="2")&&($.c="3")}"#
        ));
    }

    #[test]
    fn unparsable_patterns_fall_back_to_whitespace_normalised_text() {
        assert!(parse("ERROR Exception").is_err());
        assert!(equivalent("ERROR  Exception", "ERROR Exception"));
        assert!(!equivalent("ERROR", "WARN"));
        assert!(parse("{ ($.a = 1 }").is_err());
        // Quoted whitespace survives the fallback.
        assert!(!equivalent(r#"[x = "a b"]"#, r#"[x = "ab"]"#));
    }

    #[test]
    fn term_diff_names_the_added_terms() {
        let (removed, added) = term_diff(
            "{ ($.eventName = A) || ($.eventName = B) }",
            "{ ($.eventName = B) || ($.eventName = A) || ($.eventName = C) }",
        );
        assert!(removed.is_empty());
        assert_eq!(added, vec![r#"($.eventName = "C")"#.to_string()]);
    }
}
