// The parameter group family of an engine version and the name of the group a Database owns:
// a valid RDS name for any object whatever, distinct per object and per family.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { rdsIdentifier } from '../../contracts/identifier.js';
import { ownedParameterGroupName, parameterGroupFamily } from '../../contracts/parameter-group.js';

/** RDS's rule for a parameter group's name. */
const RDS_GROUP_NAME = /^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$/;

describe('parameter groups', () => {
  it('names the family as RDS does', () => {
    assert.equal(parameterGroupFamily('postgres', '16.4'), 'postgres16');
    assert.equal(parameterGroupFamily('postgres', '16'), 'postgres16');
    assert.equal(parameterGroupFamily('postgres', '9.6.22'), 'postgres9.6');
    assert.equal(parameterGroupFamily('mysql', '8.0.35'), 'mysql8.0');
    assert.equal(parameterGroupFamily('mysql', '8.4.3'), 'mysql8.4');
    assert.equal(parameterGroupFamily('mariadb', '10.11.8'), 'mariadb10.11');
    assert.equal(parameterGroupFamily('mysql', '8'), undefined);
    assert.equal(parameterGroupFamily('postgres', 'x'), undefined);
  });

  it('gives every object a valid group name of its own, per family', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme' }),
        fc.string({ unit: 'grapheme' }),
        fc.constantFrom('postgres16', 'mysql8.0', 'mariadb10.11'),
        (namespace, name, family) => {
          const identifier = rdsIdentifier(namespace, name);
          const group = ownedParameterGroupName(identifier, family);
          assert.match(group, RDS_GROUP_NAME);
          assert.ok(group.length <= 255);
          assert.ok(group.startsWith(`${identifier}-`));
          assert.notEqual(group, ownedParameterGroupName(identifier, 'postgres17'));
        },
      ),
    );
  });
});
