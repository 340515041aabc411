import openapiTS, { COMMENT_HEADER, astToString } from 'openapi-typescript';
import type { OpenAPI3 } from 'openapi-typescript';
import { describe, expect, it } from 'vitest';

import document from './openapi.json';
import committed from './schema.d.ts?raw';

// tests/api/test_schema_export.py checks openapi.json against the server; this checks the
// types against openapi.json. Together they fail when page and server drift apart.
describe('generated API types', () => {
  it('match the committed OpenAPI document', async () => {
    const generated = COMMENT_HEADER + astToString(await openapiTS(document as OpenAPI3));
    expect(generated === committed, 'schema.d.ts is stale: run `npm run gen:api` in web/').toBe(
      true,
    );
  });
});
