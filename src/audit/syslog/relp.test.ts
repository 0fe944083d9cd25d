import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { messageOfOctetCounted, nextTxnr, RELP_TXNR_MAX, relpFrame, RelpReader } from './relp.js';

describe('RELP framing', () => {
  it('frames commands, reads responses split anywhere, and wraps the transaction number', () => {
    assert.equal(relpFrame(2, 'syslog', Buffer.from('<134>1 x')).toString(), '2 syslog 8 <134>1 x\n');
    assert.equal(relpFrame(9, 'close', Buffer.alloc(0)).toString(), '9 close 0\n');
    const reader = new RelpReader();
    const stream = Buffer.from('1 rsp 6 200 OK\n2 rsp 6 200 OK\n0 serverclose 0\n');
    const seen = [...reader.push(stream.subarray(0, 5)), ...reader.push(stream.subarray(5, 17)), ...reader.push(stream.subarray(17))];
    assert.deepEqual(seen, [{ txnr: 1, command: 'rsp', data: '200 OK' }, { txnr: 2, command: 'rsp', data: '200 OK' }, { txnr: 0, command: 'serverclose', data: '' }]);
    assert.throws(() => new RelpReader().push(Buffer.from('HTTP/1.1 400 Bad Request\r\n')));
    assert.equal(nextTxnr(RELP_TXNR_MAX), 1);
    assert.equal(messageOfOctetCounted(Buffer.from('5 hello')).toString(), 'hello');
  });
});
