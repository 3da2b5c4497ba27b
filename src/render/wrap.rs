//! Fitting text to the terminal: word wrap with a hanging indent, and the width to wrap at.
//! Nothing is ever cut: a word longer than the line (an ARN, a policy as JSON) is broken
//! across lines instead.

use console::measure_text_width;

/// Columns used when standard output is not a terminal.
pub const DEFAULT_WIDTH: usize = 100;

/// Narrowest width wrapped to; below it lines are left long rather than one word each.
const MIN_WIDTH: usize = 40;

/// The width to render for: the terminal's when standard output is one, else `COLUMNS` when
/// set (tests, `COLUMNS=80 cis-fix plan | less`), else 100.
pub fn output_width() -> usize {
    let term = console::Term::stdout();
    let w = if term.is_term() {
        usize::from(term.size().1)
    } else {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(DEFAULT_WIDTH)
    };
    w.max(MIN_WIDTH)
}

/// `text` wrapped to `width` columns. The first line starts with `first` (it may hold colour
/// codes; only its visible width counts), the others with `hang` spaces. Each returned line
/// has no trailing newline; `style` is applied to the text part of each line.
pub fn wrap_styled(
    text: &str,
    width: usize,
    first: &str,
    hang: usize,
    style: impl Fn(&str) -> String,
) -> Vec<String> {
    let width = width.max(MIN_WIDTH);
    let mut out = Vec::new();
    let mut prefix = first.to_string();
    let mut room = width.saturating_sub(measure_text_width(first)).max(10);
    let mut line = String::new();
    let flush =
        |out: &mut Vec<String>, prefix: &mut String, line: &mut String, room: &mut usize| {
            out.push(format!("{prefix}{}", style(line)));
            *prefix = " ".repeat(hang);
            *room = width.saturating_sub(hang).max(10);
            line.clear();
        };
    for word in text.split(' ') {
        let w = measure_text_width(word);
        let need = if line.is_empty() { w } else { w + 1 };
        if measure_text_width(&line) + need <= room {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            continue;
        }
        if !line.is_empty() {
            flush(&mut out, &mut prefix, &mut line, &mut room);
        }
        // A word longer than a whole line: break it where the line ends.
        let mut rest = word;
        while measure_text_width(rest) > room {
            let cut = split_at_width(rest, room);
            line.push_str(&rest[..cut]);
            flush(&mut out, &mut prefix, &mut line, &mut room);
            rest = &rest[cut..];
        }
        line.push_str(rest);
    }
    if !line.is_empty() || out.is_empty() {
        out.push(format!("{prefix}{}", style(&line)));
    }
    out
}

/// [`wrap_styled`] without styling, joined with newlines and ending in one.
pub fn wrap(text: &str, width: usize, first: &str, hang: usize) -> String {
    let mut s = wrap_styled(text, width, first, hang, str::to_string).join("\n");
    s.push('\n');
    s
}

/// The byte index where `s` reaches `cols` visible columns (at least one character).
fn split_at_width(s: &str, cols: usize) -> usize {
    let mut used = 0;
    for (i, ch) in s.char_indices() {
        let w = measure_text_width(ch.encode_utf8(&mut [0; 4]));
        if used + w > cols && i > 0 {
            return i;
        }
        used += w;
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_with_a_hanging_indent_and_never_cuts() {
        let text =
            "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron";
        let s = wrap(text, 40, "  - note: ", 10);
        for l in s.lines() {
            assert!(measure_text_width(l) <= 40, "{l:?}");
        }
        assert!(s.lines().skip(1).all(|l| l.starts_with("          ")));
        let words: Vec<&str> = s.split_whitespace().collect();
        assert_eq!(words[2..].join(" "), text);
    }

    #[test]
    fn breaks_a_word_longer_than_the_line() {
        let arn =
            "arn:aws:iam::123456789012:policy/a-very-long-policy-name-that-does-not-fit-anywhere";
        let s = wrap(arn, 40, "    ", 4);
        assert!(s.lines().all(|l| measure_text_width(l) <= 40), "{s}");
        let joined: String = s.lines().map(str::trim).collect();
        assert_eq!(joined, arn);
    }
}
