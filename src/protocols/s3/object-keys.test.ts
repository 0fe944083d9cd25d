import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorXml, S3Error } from './errors.js';
import { compareKeys, parseObjectKey } from './object-keys.js';
import { parseXml } from './xml.js';

const codeOf = (key: string) => {
  try {
    parseObjectKey(key);
    return 'ok';
  } catch (error) {
    return error instanceof S3Error ? error.code : String(error);
  }
};

describe('object keys and XML', () => {
  it('keys that cannot be paths are refused with InvalidArgument or KeyTooLongError', () => {
    for (const key of ['', '/a', 'a//b', 'a/./b', 'a/../b', '..', 'a\0b', '.enclave-upload-x']) assert.equal(codeOf(key), 'InvalidArgument', JSON.stringify(key));
    assert.equal(codeOf('k'.repeat(1025)), 'KeyTooLongError');
    assert.equal(codeOf(`${'s'.repeat(256)}/x`), 'KeyTooLongError');
    for (const key of ['a', 'a/b/c.txt', 'folder/', 'ünï cödé/ключ', 'k'.repeat(255)]) assert.equal(codeOf(key), 'ok', key);
    assert.equal(parseObjectKey('folder/').folder, true);
  });

  it('keys compare by UTF-8 bytes, as S3 lists them', () => {
    assert.ok(compareKeys('a-b', 'a/') < 0);
    assert.ok(compareKeys('\uFFFD', '\u{1F600}') < 0);
  });

  it('error bodies carry code, message, details and request id, escaped', () => {
    const xml = errorXml({ code: 'NoSuchKey', message: 'The specified key does not exist.', details: { Key: 'a<b>&c' } }, 'REQ1', 'HOST');
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>NoSuchKey<\/Code>/);
    assert.match(xml, /<Key>a&#60;b&#62;&#38;c<\/Key><RequestId>REQ1<\/RequestId><HostId>HOST<\/HostId>/);
  });

  it('the XML reader takes the Delete document and refuses DTDs and broken documents with MalformedXML', () => {
    const root = parseXml('<?xml version="1.0"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object></Delete>');
    assert.equal(root.children[1]?.children[0]?.text, 'a&b');
    for (const bad of ['<!DOCTYPE x [<!ENTITY e "x">]><Delete/>', '<Delete><Object></Delete>', '<A/><B/>', 'text', '<Delete>&bogus;</Delete>', '']) {
      assert.throws(() => parseXml(bad), (error: unknown) => error instanceof S3Error && error.code === 'MalformedXML', bad);
    }
  });
});
