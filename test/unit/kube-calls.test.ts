// How a Kubernetes call is named in metrics and timeout errors: the apiserver's own verb and
// resource, so `rdsflow_*_kube_timeouts_total{call}` reads like the apiserver's audit log.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callName } from '../../kube/http.js';

const at = (path: string) => new URL(`https://127.0.0.1:6443${path}`);

describe('callName', () => {
  it('names Database calls by verb and resource, namespaced or across namespaces', () => {
    const db = '/apis/rdsflow.io/v1alpha1';
    assert.equal(callName('GET', at(`${db}/databases?limit=500`)), 'list databases');
    assert.equal(callName('GET', at(`${db}/namespaces/shop/databases`)), 'list databases');
    assert.equal(
      callName('GET', at(`${db}/namespaces/shop/databases?watch=true&resourceVersion=7`)),
      'watch databases',
    );
    assert.equal(callName('GET', at(`${db}/namespaces/shop/databases/orders`)), 'get databases');
    assert.equal(
      callName('PATCH', at(`${db}/namespaces/shop/databases/orders`)),
      'patch databases',
    );
    assert.equal(
      callName('PATCH', at(`${db}/namespaces/shop/databases/orders/status`)),
      'patch databases/status',
    );
  });

  it('names core and other groups alike, a namespace itself included', () => {
    assert.equal(callName('POST', at('/api/v1/namespaces/shop/events')), 'create events');
    assert.equal(callName('GET', at('/api/v1/namespaces/kube-system')), 'get namespaces');
    assert.equal(
      callName('GET', at('/apis/coordination.k8s.io/v1/namespaces/rdsflow/leases/watcher')),
      'get leases',
    );
    assert.equal(
      callName('PUT', at('/apis/coordination.k8s.io/v1/namespaces/rdsflow/leases/watcher')),
      'update leases',
    );
    assert.equal(
      callName('DELETE', at('/api/v1/namespaces/shop/events')),
      'deletecollection events',
    );
    assert.equal(callName('DELETE', at('/api/v1/namespaces/shop/events/e1')), 'delete events');
  });
});
