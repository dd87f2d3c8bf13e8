export { freePort } from '../../test-support/ports.js';
export { until } from '../../test-support/until.js';
