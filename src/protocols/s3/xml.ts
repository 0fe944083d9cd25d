/**
 * The small XML subset S3 needs: escaping for answers, and a bounded parser for the few request
 * bodies S3 defines (Delete, CompleteMultipartUpload, CreateBucketConfiguration). No DTDs, no
 * entities beyond the five predefined and numeric ones, no namespaces beyond ignoring prefixes:
 * anything else is MalformedXML, so there is nothing to expand and nothing to fetch.
 */
import { S3Error } from './errors.js';

export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';
export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';
/** Elements in one document; Delete allows 1,000 objects of a few elements each. */
const XML_ELEMENTS_MAX = 10_000;
const XML_DEPTH_MAX = 16;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => (char === '&' ? '&amp;' : char === '<' ? '&lt;' : char === '>' ? '&gt;' : char === '"' ? '&quot;' : '&apos;'));
}

/** `<name>escaped text</name>`; children given as already-built XML strings. */
export function element(name: string, content: string | number | boolean | readonly string[]): string {
  const inner = Array.isArray(content) ? content.join('') : escapeXml(String(content));
  return `<${name}>${inner}</${name}>`;
}

export interface XmlElement {
  readonly name: string;
  readonly children: XmlElement[];
  text: string;
}

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);|&/g, (whole, entity: string | undefined) => {
    if (entity === undefined) throw new S3Error('MalformedXML', 'a bare & in the XML');
    if (entity === 'amp') return '&';
    if (entity === 'lt') return '<';
    if (entity === 'gt') return '>';
    if (entity === 'quot') return '"';
    if (entity === 'apos') return "'";
    const code = entity.startsWith('#x') ? Number.parseInt(entity.slice(2), 16) : Number.parseInt(entity.slice(1), 10);
    if (!Number.isInteger(code) || code <= 0 || code > 0x10ffff) throw new S3Error('MalformedXML', `bad character reference ${whole}`);
    return String.fromCodePoint(code);
  });
}

const localName = (qualified: string): string => qualified.slice(qualified.indexOf(':') + 1);

/** Parses a whole document into its root element; MalformedXML on anything outside the subset. */
export function parseXml(source: string): XmlElement {
  let position = 0;
  let elements = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const fail = (why: string): never => {
    throw new S3Error('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema (${why})`);
  };
  while (position < source.length) {
    const open = source.indexOf('<', position);
    const text = source.slice(position, open === -1 ? source.length : open);
    if (text.trim() !== '') {
      const top = stack.at(-1);
      if (top === undefined) fail('text outside the root element');
      else top.text += unescapeXml(text);
    }
    if (open === -1) break;
    if (source.startsWith('<?', open)) {
      const end = source.indexOf('?>', open);
      if (end === -1 || stack.length > 0 || root !== undefined) fail('misplaced processing instruction');
      position = end + 2;
    } else if (source.startsWith('<!--', open)) {
      const end = source.indexOf('-->', open);
      if (end === -1) fail('unterminated comment');
      position = end + 3;
    } else if (source.startsWith('<!', open)) {
      fail('DTDs and CDATA are not accepted');
    } else {
      const end = source.indexOf('>', open);
      if (end === -1) fail('unterminated tag');
      const tag = source.slice(open + 1, end);
      position = end + 1;
      if (tag.startsWith('/')) {
        const top = stack.pop();
        if (top === undefined || localName(tag.slice(1).trim()) !== top.name) fail('mismatched closing tag');
        continue;
      }
      const selfClosing = tag.endsWith('/');
      const match = /^([A-Za-z_][\w.:-]*)(\s[^<>]*)?$/.exec(selfClosing ? tag.slice(0, -1) : tag);
      if (match === null) fail('bad tag');
      const node: XmlElement = { name: localName((match as RegExpExecArray)[1] as string), children: [], text: '' };
      if (++elements > XML_ELEMENTS_MAX) fail('too many elements');
      const parent = stack.at(-1);
      if (parent === undefined) {
        if (root !== undefined) fail('two root elements');
        root = node;
      } else parent.children.push(node);
      if (!selfClosing) {
        stack.push(node);
        if (stack.length > XML_DEPTH_MAX) fail('nested too deeply');
      }
    }
  }
  if (root === undefined || stack.length > 0) fail('incomplete document');
  return root as XmlElement;
}

export function childText(node: XmlElement, name: string): string | undefined {
  return node.children.find((child) => child.name === name)?.text;
}
