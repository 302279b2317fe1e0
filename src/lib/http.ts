/**
 * Telling a missing file from a broken one. The preview and static servers answer a path they do
 * not have with index.html and status 200, so "not found" must be read from the answer itself: a
 * web page (by its content type, or by its first bytes) where data was asked for.
 */

const BOM = [0xef, 0xbb, 0xbf];
const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** Whether the body starts with markup (`<`), after an optional UTF-8 byte-order mark and white space. */
function startsWithMarkup(firstBytes: Uint8Array | string): boolean {
  if (typeof firstBytes === 'string') return firstBytes.replace(/^\uFEFF/, '').trimStart().startsWith('<');
  let i = BOM.every((b, k) => firstBytes[k] === b) ? BOM.length : 0;
  while (i < firstBytes.length && isSpace(firstBytes[i])) i++;
  return firstBytes[i] === 0x3c; // '<'
}

/**
 * True when `response` is a web page: its content type is HTML, or its body (`firstBytes`, text or
 * the first bytes of a download) starts with `<`. Neither JSON nor an ONNX protobuf can start so.
 */
export function isHtmlResponse(response: Pick<Response, 'headers'>, firstBytes?: Uint8Array | string): boolean {
  const type = response.headers.get('content-type') ?? '';
  if (/^\s*(text\/html|application\/xhtml\+xml)\b/i.test(type)) return true;
  return firstBytes !== undefined && startsWithMarkup(firstBytes);
}

/** "The model manifest was not found at <url> (the server answered with a web page)." */
export function notFoundMessage(what: string, url: string, answeredWithPage = true): string {
  return `The ${what} was not found at ${url}${answeredWithPage ? ' (the server answered with a web page)' : ''}.`;
}
