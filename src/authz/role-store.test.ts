import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFsError } from '../core/errors.js';
import { MemoryMetadataStore } from '../storage/metadata/memory/memory-metadata-store.js';
import { ALL_PRIVILEGES } from './privileges.js';
import { RoleStore } from './role-store.js';

describe('role store', () => {
  it('has the built-in roles, which cannot be changed or deleted', async () => {
    const roles = new RoleStore(new MemoryMetadataStore());
    const names = (await roles.list()).map((role) => role.name);
    assert.deepEqual(names, ['Administrators', 'DataAdministrators', 'Observers']);
    assert.deepEqual((await roles.get('Administrators'))?.privileges, ALL_PRIVILEGES);
    assert.ok((await roles.get('Observers'))?.privileges.every((privilege) => privilege.endsWith('_READ')));
    await assert.rejects(roles.update('Administrators', { privileges: [] }), (error) => isFsError(error, 'ReadOnly'));
    await assert.rejects(roles.delete('Observers'), (error) => isFsError(error, 'ReadOnly'));
  });

  it('grants the union of the roles of a user and of its groups, and forgets deleted members', async () => {
    const roles = new RoleStore(new MemoryMetadataStore());
    await roles.create({ name: 'S3Keys', privileges: ['S3_READ', 'S3_WRITE'] });
    await roles.addMember('S3Keys', { kind: 'group', id: '300' });
    await roles.addMember('Observers', { kind: 'user', id: 'u1' });
    const privileges = await roles.privilegesOf('u1', [100, 300]);
    assert.ok(privileges.has('S3_WRITE') && privileges.has('AUTH_READ') && !privileges.has('AUTH_WRITE'));
    assert.deepEqual([...(await roles.privilegesOf('u2', [100]))], []);
    await roles.forgetMember({ kind: 'user', id: 'u1' });
    assert.ok(!(await roles.privilegesOf('u1', [])).has('AUTH_READ'));
    await roles.delete('S3Keys');
    assert.equal((await roles.privilegesOf('u1', [300])).size, 0);
  });

  it('refuses unknown privileges, bad names and duplicates', async () => {
    const roles = new RoleStore(new MemoryMetadataStore());
    await assert.rejects(roles.create({ name: 'X', privileges: ['ROOT_EVERYTHING'] }), (error) => isFsError(error, 'InvalidArgument'));
    await assert.rejects(roles.create({ name: '1bad', privileges: [] }), (error) => isFsError(error, 'InvalidName'));
    await assert.rejects(roles.create({ name: 'Observers', privileges: [] }), (error) => isFsError(error, 'Exists'));
    await roles.create({ name: 'Custom', privileges: [] });
    await assert.rejects(roles.create({ name: 'Custom', privileges: [] }), (error) => isFsError(error, 'Exists'));
    await assert.rejects(roles.removeMember('Custom', { kind: 'user', id: 'nobody' }), (error) => isFsError(error, 'NotFound'));
  });
});
