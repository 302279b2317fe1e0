import { describe, expect, it } from 'vitest';
import { isHtmlResponse, notFoundMessage } from './http';

const answer = (contentType: string | null) => new Response('', contentType ? { headers: { 'content-type': contentType } } : {});
const bytes = (...b: number[]) => new Uint8Array(b);

describe('isHtmlResponse', () => {
  it('knows a web page by its content type', () => {
    expect(isHtmlResponse(answer('text/html'))).toBe(true);
    expect(isHtmlResponse(answer('text/html; charset=utf-8'))).toBe(true);
    expect(isHtmlResponse(answer('application/xhtml+xml'))).toBe(true);
    expect(isHtmlResponse(answer('application/json'))).toBe(false);
    expect(isHtmlResponse(answer('application/octet-stream'))).toBe(false);
  });

  it('knows a web page by its first bytes when the type says nothing useful', () => {
    expect(isHtmlResponse(answer(null), '<!doctype html><html>')).toBe(true);
    expect(isHtmlResponse(answer('application/json'), '\uFEFF\n  <html>')).toBe(true);
    expect(isHtmlResponse(answer('application/octet-stream'), bytes(0xef, 0xbb, 0xbf, 0x0a, 0x3c, 0x21))).toBe(true);
    expect(isHtmlResponse(answer(null), bytes(0x20, 0x3c))).toBe(true);
  });

  it('lets data through', () => {
    expect(isHtmlResponse(answer('application/json'), ' {"version": 1}')).toBe(false);
    // An ONNX protobuf starts with field 1 (ir_version), tag 0x08.
    expect(isHtmlResponse(answer('application/octet-stream'), bytes(0x08, 0x08, 0x12, 0x07))).toBe(false);
    expect(isHtmlResponse(answer(null), bytes())).toBe(false);
    expect(isHtmlResponse(answer(null), '')).toBe(false);
    expect(isHtmlResponse(answer(null))).toBe(false);
  });
});

describe('notFoundMessage', () => {
  it('names what was missing and where', () => {
    expect(notFoundMessage('model manifest', 'http://x/models/manifest.json')).toBe(
      'The model manifest was not found at http://x/models/manifest.json (the server answered with a web page).',
    );
    expect(notFoundMessage('model file', 'http://x/m.onnx', false)).toBe('The model file was not found at http://x/m.onnx.');
  });
});
