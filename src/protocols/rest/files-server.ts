import { PATH_BYTES_MAX } from '../../core/file-system.js';
import type { ApiApp } from './route.js';

/**
 * What the file routes need from the server itself (fastify options and parsers cannot be set
 * per route). createApiServer applies both before its routes are registered.
 */

/**
 * fastify's `maxParamLength` (default 100, beyond which a route does not match and answers 404):
 * a file ref is a percent-encoded path of up to PATH_BYTES_MAX bytes, 3 characters per byte.
 */
export const FILE_REF_PARAM_CHARACTERS_MAX = 3 * (PATH_BYTES_MAX + 1);

/**
 * Lets `PUT /v1/files/{ref}/data` stream its body: an `application/octet-stream` body is handed
 * to the route as the unread request stream instead of being buffered, so the server's small JSON
 * body limit does not apply to it; the route enforces its own cap (`uploadBytesMax`) as it reads.
 */
export function addFileUploadParser(app: ApiApp): void {
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => {
    done(null, payload);
  });
}
