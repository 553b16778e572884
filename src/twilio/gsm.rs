//! The GSM 03.38 alphabet: which characters a plain SMS can carry without switching the whole
//! message to UCS-2.

/// The basic character set (escape excluded).
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table: each costs two septets.
const EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// Whether `c` is in the GSM 03.38 basic set or its extension table.
pub(crate) fn is_gsm7(c: char) -> bool {
    BASIC.contains(c) || EXTENSION.contains(c)
}

/// Whether `c` is in the extension table (two septets).
pub(crate) fn is_gsm7_extension(c: char) -> bool {
    EXTENSION.contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_basic_set_and_the_extension_table() {
        assert!("Hello, World! 123 @£ä".chars().all(is_gsm7));
        assert!(is_gsm7('€') && is_gsm7_extension('€'));
        assert!(!is_gsm7('😀') && !is_gsm7('ç') && !is_gsm7('`'));
    }
}
