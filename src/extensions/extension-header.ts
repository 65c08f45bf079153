// The Sec-WebSocket-Extensions header (RFC 6455 §9.1), read in one linear
// pass: no regular expression, so no backtracking on a hostile value.
//
//   extension-list = 1#extension
//   extension      = extension-token *( ";" extension-param )
//   extension-param = token [ "=" ( token | quoted-string ) ]
//
// Repeated header lines reach us joined with ", " (request-head.ts), which is
// the same list. A quoted value is unquoted here (RFC 7692 §5.1: its content
// must then be a token too, which the extension's own checks see). An offer
// whose syntax is broken is kept as `valid: false`, so the caller declines it
// and goes on with the next one: a bad extension offer never fails a handshake.

/** One offered extension: its name (lower-cased) and parameters in order, `true` for one without a value. */
export interface ExtensionOffer {
  name: string;
  params: [name: string, value: string | true][];
  /** False when the offer's syntax is broken (it is then declined). */
  valid: boolean;
}

/** RFC 9110 §5.6.2 tchar. */
function isTchar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x21 || // !
    (c >= 0x23 && c <= 0x27) || // # $ % & '
    c === 0x2a || // *
    c === 0x2b || // +
    c === 0x2d || // -
    c === 0x2e || // .
    c === 0x5e || // ^
    c === 0x5f || // _
    c === 0x60 || // `
    c === 0x7c || // |
    c === 0x7e // ~
  );
}

const SP = 0x20;
const HTAB = 0x09;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Every offer in the header value, in order (empty list elements are skipped, as RFC 9110 §5.6.1 asks). */
export function parseExtensions(value: string): ExtensionOffer[] {
  const offers: ExtensionOffer[] = [];
  const n = value.length;
  let i = 0;
  const skipSpace = (): void => {
    while (i < n && (value.charCodeAt(i) === SP || value.charCodeAt(i) === HTAB)) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && isTchar(value.charCodeAt(i))) i++;
    return value.slice(start, i);
  };
  /** Skips to just after the next comma outside a quoted string (or the end): the rest of a broken offer. */
  const skipOffer = (): void => {
    let quoted = false;
    while (i < n) {
      const c = value.charCodeAt(i++);
      if (quoted) {
        if (c === BACKSLASH) i++;
        else if (c === DQUOTE) quoted = false;
      } else if (c === DQUOTE) quoted = true;
      else if (c === COMMA) return;
    }
  };

  while (i < n) {
    skipSpace();
    if (i < n && value.charCodeAt(i) === COMMA) {
      i++;
      continue;
    }
    if (i >= n) break;
    const name = token();
    const offer: ExtensionOffer = { name: name.toLowerCase(), params: [], valid: name !== '' };
    offers.push(offer);
    if (!offer.valid) {
      skipOffer();
      continue;
    }
    // Parameters, then a comma or the end.
    for (;;) {
      skipSpace();
      if (i >= n) break;
      const c = value.charCodeAt(i);
      if (c === COMMA) {
        i++;
        break;
      }
      if (c !== SEMICOLON) {
        offer.valid = false;
        skipOffer();
        break;
      }
      i++;
      skipSpace();
      const param = token();
      if (param === '') {
        offer.valid = false;
        skipOffer();
        break;
      }
      skipSpace();
      if (i < n && value.charCodeAt(i) === EQUALS) {
        i++;
        skipSpace();
        let v: string | undefined;
        if (i < n && value.charCodeAt(i) === DQUOTE) {
          // Slices between escapes, joined once: no string grows a character at a time.
          i++;
          let from = i;
          let text = '';
          let closed = false;
          while (i < n) {
            const q = value.charCodeAt(i);
            if (q === DQUOTE) {
              text += value.slice(from, i);
              i++;
              closed = true;
              break;
            }
            if (q === BACKSLASH) {
              text += value.slice(from, i);
              from = i + 1;
              i += 2;
            } else i++;
          }
          v = closed ? text : undefined;
        } else {
          v = token();
          if (v === '') v = undefined;
        }
        if (v === undefined) {
          offer.valid = false;
          skipOffer();
          break;
        }
        offer.params.push([param.toLowerCase(), v]);
      } else {
        offer.params.push([param.toLowerCase(), true]);
      }
    }
  }
  return offers;
}
