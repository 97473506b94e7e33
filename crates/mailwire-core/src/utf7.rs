//! Modified UTF-7 (RFC 3501 section 5.1.3): the form of mailbox names in
//! IMAP4rev1 and in Maildir++ folder names on disk.

use crate::TypeError;

const WHAT_UTF7: &str = "modified UTF-7 name";

/// The modified base64 alphabet of RFC 3501 section 5.1.3: base64 with `,`
/// instead of `/`.
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// The value of each byte in [`BASE64`], `NOT_BASE64` for the others.
const NOT_BASE64: u8 = 0xff;
static BASE64_VALUE: [u8; 256] = {
    let mut t = [NOT_BASE64; 256];
    let mut i = 0;
    while i < 64 {
        t[BASE64[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Printable US-ASCII, the characters that represent themselves in modified
/// UTF-7 (`&` aside).
pub fn is_printable(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// Whether modified UTF-7 leaves `name` as it is (printable ASCII, no `&`).
pub fn is_modified_utf7_identity(name: &[u8]) -> bool {
    name.iter().all(|&b| is_printable(b) && b != b'&')
}

/// Encodes a name in modified UTF-7 (RFC 3501 section 5.1.3), the form
/// IMAP4rev1 peers exchange: printable ASCII stands for itself, `&` becomes
/// `&-`, and each run of other characters becomes one `&`...`-` section of
/// their UTF-16 code units in modified base64 without padding.
pub fn encode_modified_utf7(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + name.len() / 2);
    encode_modified_utf7_into(name, &mut out);
    out
}

/// [`encode_modified_utf7`] appending to `out`.
pub fn encode_modified_utf7_into(name: &str, out: &mut String) {
    // Bits not yet written (fewer than 6 between characters), and whether a
    // base64 section is open.
    let mut bits: u32 = 0;
    let mut nbits: u32 = 0;
    let mut in_base64 = false;
    let close = |out: &mut String, bits: u32, nbits: u32| {
        if nbits > 0 {
            // The remaining bits, padded with zero bits to one character.
            out.push(char::from(BASE64[((bits << (6 - nbits)) & 63) as usize]));
        }
        out.push('-');
    };
    for c in name.chars() {
        if u32::from(c) < 0x80 && is_printable(c as u8) {
            if in_base64 {
                close(out, bits, nbits);
                (bits, nbits, in_base64) = (0, 0, false);
            }
            out.push(c);
            if c == '&' {
                out.push('-');
            }
            continue;
        }
        if !in_base64 {
            out.push('&');
            in_base64 = true;
        }
        let mut buf = [0u16; 2];
        for &unit in c.encode_utf16(&mut buf).iter() {
            bits = (bits << 16) | u32::from(unit);
            nbits += 16;
            while nbits >= 6 {
                nbits -= 6;
                out.push(char::from(BASE64[((bits >> nbits) & 63) as usize]));
            }
            bits &= (1 << nbits) - 1;
        }
    }
    if in_base64 {
        close(out, bits, nbits);
    }
}

fn utf7_error(problem: &'static str, input: &[u8], position: usize) -> TypeError {
    TypeError {
        what: WHAT_UTF7,
        problem,
        byte: input.get(position).copied(),
        position: Some(position),
    }
}

/// Decodes a modified UTF-7 name (RFC 3501 section 5.1.3).
///
/// Strict: accepts exactly what [`encode_modified_utf7`] produces, and names
/// the offending byte and its position otherwise. Rejected are bytes other
/// than printable US-ASCII, a `&` section not closed by `-` (there is no
/// implicit shift back), a byte outside the modified base64 alphabet in a
/// section, a section whose bits do not end on a UTF-16 code unit or whose
/// padding bits are not zero, an unpaired surrogate, printable ASCII
/// encoded in base64 (`&AGE-` for `a`, `&ACY-` for `&`), and a section
/// right after another (`&AOk-&AOk-`, a superfluous shift: the encoder
/// writes `&AOkA6Q-`). `&-` is `&`, also right after a section.
pub fn decode_modified_utf7(input: &[u8]) -> Result<String, TypeError> {
    decode(input, false)
}

/// [`decode_modified_utf7`], but also taking a base64 section right after
/// another (`&AOk-&AOk-`): names that other software wrote, such as
/// Maildir++ folder names on disk, where refusing one would hide a folder.
pub fn decode_modified_utf7_relaxed(input: &[u8]) -> Result<String, TypeError> {
    decode(input, true)
}

fn decode(input: &[u8], adjacent_sections: bool) -> Result<String, TypeError> {
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    // Whether a non-empty base64 section ended right before `i`.
    let mut after_section = false;
    while i < input.len() {
        let ascii_end = memchr::memchr(b'&', &input[i..]).map_or(input.len(), |n| i + n);
        let ascii = &input[i..ascii_end];
        if let Some(p) = ascii.iter().position(|&b| !is_printable(b)) {
            return Err(utf7_error("byte not printable US-ASCII", input, i + p));
        }
        if !ascii.is_empty() {
            // Printable ASCII is UTF-8.
            out.push_str(std::str::from_utf8(ascii).unwrap_or_default());
            after_section = false;
        }
        i = ascii_end;
        if i == input.len() {
            break;
        }
        let shift = i;
        i += 1;
        if input.get(i) == Some(&b'-') {
            out.push('&');
            i += 1;
            after_section = false;
            continue;
        }
        if after_section && !adjacent_sections {
            return Err(utf7_error(
                "superfluous shift: a base64 section right after another",
                input,
                shift,
            ));
        }
        i = decode_section(input, shift, &mut out)?;
        after_section = true;
    }
    Ok(out)
}

/// Decodes the non-empty base64 section starting with the `&` at `shift`;
/// returns the position after its closing `-`.
fn decode_section(input: &[u8], shift: usize, out: &mut String) -> Result<usize, TypeError> {
    let mut bits: u32 = 0;
    let mut nbits: u32 = 0;
    let mut high: Option<u16> = None;
    let mut i = shift + 1;
    loop {
        let Some(&b) = input.get(i) else {
            return Err(utf7_error("'&' not closed by '-'", input, shift));
        };
        if b == b'-' {
            break;
        }
        let value = BASE64_VALUE[usize::from(b)];
        if value == NOT_BASE64 {
            return Err(utf7_error(
                "byte not in the modified base64 alphabet (missing '-'?)",
                input,
                i,
            ));
        }
        bits = (bits << 6) | u32::from(value);
        nbits += 6;
        if nbits >= 16 {
            nbits -= 16;
            let unit = (bits >> nbits) as u16;
            bits &= (1 << nbits) - 1;
            match (high.take(), unit) {
                (Some(h), 0xdc00..=0xdfff) => {
                    let c = 0x10000 + ((u32::from(h) - 0xd800) << 10) + (u32::from(unit) - 0xdc00);
                    out.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                (Some(_), _) => {
                    return Err(utf7_error(
                        "high surrogate not followed by a low surrogate",
                        input,
                        i,
                    ));
                }
                (None, 0xd800..=0xdbff) => high = Some(unit),
                (None, 0xdc00..=0xdfff) => return Err(utf7_error("unpaired low surrogate", input, i)),
                (None, 0x20..=0x7e) => {
                    return Err(utf7_error("printable US-ASCII encoded in base64", input, i));
                }
                (None, _) => out.push(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER)),
            }
        }
        i += 1;
    }
    if nbits >= 6 {
        return Err(utf7_error(
            "base64 section ends inside a UTF-16 code unit",
            input,
            i,
        ));
    }
    if bits != 0 {
        return Err(utf7_error("base64 padding bits not zero", input, i - 1));
    }
    if high.is_some() {
        return Err(utf7_error(
            "high surrogate not followed by a low surrogate",
            input,
            i,
        ));
    }
    Ok(i + 1)
}
