import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { PasswordPolicy, PasswordPolicyError, loadCommonPasswords } from './password-policy.js';

describe('password policy', () => {
  const policy = new PasswordPolicy();

  it('accepts a long, uncommon password that does not contain the name', () => {
    assert.deepEqual(policy.evaluate('lantern-cobalt-9', { userName: 'alice' }), []);
    policy.enforce('lantern-cobalt-9', { userName: 'alice' });
  });

  it('refuses a password shorter than 12 characters, counting code points', () => {
    assert.deepEqual(policy.evaluate('xk7-Qw9-pz2'), ['it must be at least 12 characters']);
    assert.deepEqual(policy.evaluate('xk7-Qw9-pz2a'), []);
    assert.deepEqual(policy.evaluate('🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑'), ['it must be at least 12 characters'], '11 code points are 22 UTF-16 units');
  });

  it('refuses more than 1024 bytes, counting UTF-8 bytes, and computes nothing else', () => {
    assert.deepEqual(policy.evaluate('x'.repeat(1025), { userName: 'xxx' }), ['it must be at most 1024 bytes']);
    assert.deepEqual(policy.evaluate('é'.repeat(513)), ['it must be at most 1024 bytes']);
    assert.deepEqual(policy.evaluate('é'.repeat(512)), []);
  });

  it('refuses the user name itself, in any case, and a password containing it', () => {
    assert.deepEqual(policy.evaluate('Maximilian_Ross', { userName: 'maximilian_ross' }), ['it must not be the user name']);
    assert.deepEqual(policy.evaluate('xx-maximilian-yy', { userName: 'Maximilian' }), ['it must not contain the user name']);
    assert.deepEqual(policy.evaluate('totally-fine-words', { userName: 'al' }), [], 'a very short name is not looked for');
  });

  it('refuses common passwords, in any case, and common passwords padded with digits or punctuation', () => {
    assert.deepEqual(policy.evaluate('Administrator'), ['it is a commonly used password']);
    assert.deepEqual(policy.evaluate('PASSWORD123456'), ['it is a commonly used password']);
    assert.deepEqual(policy.evaluate('Sunshine2024!!'), ['it is a commonly used password']);
    assert.deepEqual(policy.evaluate('!!!!monkey1234'), ['it is a commonly used password']);
  });

  it('reports every reason in one PasswordPolicyError', () => {
    assert.throws(
      () => policy.enforce('dragon', { userName: 'dragon' }),
      (error: unknown) => {
        // The API's 400 password_policy_error is asserted in routes/users.test.ts.
        assert.ok(error instanceof PasswordPolicyError);
        assert.deepEqual(error.reasons, ['it must be at least 12 characters', 'it must not be the user name', 'it is a commonly used password']);
        assert.match(error.message, /at least 12 characters; it must not be the user name; it is a commonly used password/);
        return true;
      },
    );
  });

  it('takes its limits and list from options', () => {
    const custom = new PasswordPolicy({ lengthMin: 4, bytesMax: 8, commonPasswords: new Set(['hunter']) });
    assert.deepEqual(custom.evaluate('Hunter'), ['it is a commonly used password']);
    assert.deepEqual(custom.evaluate('abc'), ['it must be at least 4 characters']);
    assert.deepEqual(custom.evaluate('abcdefghi'), ['it must be at most 8 bytes']);
    assert.throws(() => new PasswordPolicy({ lengthMin: 0 }), /assertion failed/);
  });

  it('the shipped list has a few thousand lowercase entries and no comment lines', () => {
    const list = loadCommonPasswords();
    assert.ok(list.size >= 2_000, `only ${list.size} entries`);
    assert.ok(list.has('123456') && list.has('password') && list.has('administrator'));
    assert.ok([...list].every((password) => password === password.toLowerCase() && !password.startsWith('#')));
  });
});
