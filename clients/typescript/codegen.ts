// GraphQL Code Generator: types and typed documents from the committed schema and the
// operation documents in ../operations. Run through ../regenerate, not by hand.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["../operations/*.graphql"],
  generates: {
    "src/generated/graphql.ts": {
      plugins: ["typescript-operations", "typed-document-node"],
      config: {
        // Documents are plain strings (with their types attached): send them with fetch,
        // no GraphQL runtime needed.
        documentMode: "string",
        enumsAsTypes: true,
        useTypeImports: true,
        strictScalars: true,
        // Money travels as a decimal string both ways: never a JS number.
        scalars: {
          Money: "string",
          DateTime: "string",
          UUID: "string",
          // Your own labels: a JSON object of string values (at most 50 keys).
          Metadata: "Record<string, string>",
        },
      },
    },
  },
};

export default config;
