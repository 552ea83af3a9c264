//! What the benchmarks share: the generated scripts.

/// A script of about `n` statements in blocks of ten, the way real files grow: nine lets (one
/// with a NOT) and a sample that composes all nine, half of them windowed.
pub fn generated(n: usize) -> String {
    let concepts = ["ring", "bar", "left_bar", "right_bar", "box_large", "box_small"];
    let mut s = String::from("model toy2d\nbase none\n");
    for i in 0..n {
        let c = concepts[i % concepts.len()];
        if i % 10 == 9 {
            let terms: Vec<String> =
                (i - 9..i).map(|j| if j % 2 == 0 { format!("l{j}") } else { format!("0.5 * l{j} @ [0, 0.5]") }).collect();
            s += &format!("sample s{i} = {}\n", terms.join(" AND "));
        } else if i % 10 == 0 {
            s += &format!("let l{i} = {c} AND NOT 0.2 * box_small\n");
        } else {
            s += &format!("let l{i} = {c}\n");
        }
    }
    s
}
