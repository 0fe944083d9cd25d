import Type from 'typebox';
import { PUBLIC, type ApiRoute } from '../route.js';

export interface VersionInfo {
  readonly name: 'enclave';
  readonly version: string;
  readonly revision?: string;
}

const VersionSchema = Type.Object({
  name: Type.String(),
  version: Type.String(),
  revision: Type.Optional(Type.String()),
});

export function versionRoutes(version: VersionInfo): ApiRoute[] {
  return [
    {
      method: 'GET',
      url: '/v1/version',
      privilege: PUBLIC,
      summary: 'The server software name and version.',
      schema: { response: { 200: VersionSchema } },
      handler: async () => version,
    },
  ];
}
