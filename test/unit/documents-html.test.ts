import { describe, expect, it } from 'vitest';
import { htmlDocumentToText, htmlToText } from '../../src-main/documents/html.js';
import { decodeHtmlEntities } from '../../src-main/documents/htmlEntities.js';

describe('htmlToText', () => {
  it('drops scripts, styles, comments and the head', () => {
    const html = `<html><head><title>T</title><style>p{color:red}</style></head><body>
      <script>var x = "<p>fake</p>";</script><!-- hidden --><p>Visible</p><style>.a{}</style></body></html>`;
    expect(htmlToText(html)).toBe('Visible');
  });

  it('turns block elements into paragraphs and <br> into line breaks', () => {
    expect(htmlToText('<h1>Title</h1><p>One<br>Two</p><div>Three</div>')).toBe('Title\n\nOne\nTwo\n\nThree');
  });

  it('collapses whitespace inside paragraphs but keeps spaces between inline elements', () => {
    expect(htmlToText('<p>  Some\n   <b>bold</b>   and\t<i>italic</i>text </p>')).toBe('Some bold and italictext');
  });

  it('writes list items and table rows readably', () => {
    expect(htmlToText('<ul><li>First</li><li> Second </li></ul>')).toBe('- First\n- Second');
    expect(htmlToText('<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>')).toBe(
      'A | B\n1 | 2',
    );
  });

  it('keeps whitespace inside <pre>', () => {
    expect(htmlToText('<p>Code:</p><pre>  a  b\n    c</pre>')).toBe('Code:\n\n  a  b\n    c');
  });

  it('decodes entities after removing tags, so escaped markup stays text', () => {
    expect(htmlToText('<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#169; &#x2014;</p>')).toBe(
      '<script>alert(1)</script> & © —',
    );
  });

  it('handles attributes containing ">" and unclosed scripts', () => {
    expect(htmlToText('<a title="a > b" href=\'x>y\'>link</a> text')).toBe('link text');
    expect(htmlToText('<p>before</p><script>never closed <p>lost</p>')).toBe('before');
  });

  it('leads with the title unless the page starts with it', () => {
    expect(htmlDocumentToText('<title>Guide</title><p>Body</p>')).toBe('Guide\n\nBody');
    expect(htmlDocumentToText('<title>Guide</title><h1>Guide</h1><p>Body</p>')).toBe('Guide\n\nBody');
  });
});

describe('decodeHtmlEntities', () => {
  it('decodes named, decimal and hex references and leaves unknown names alone', () => {
    expect(decodeHtmlEntities('caf&eacute; &euro;5 &#65;&#x42; &bogus; &amp')).toBe('café €5 AB &bogus; &');
  });

  it('replaces invalid code points with U+FFFD', () => {
    expect(decodeHtmlEntities('&#0;&#xD800;&#x110000;')).toBe('\ufffd\ufffd\ufffd');
  });
});
