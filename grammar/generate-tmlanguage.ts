/** Writes grammar/esql.tmLanguage.json from the parser keywords. Run: node --import tsx grammar/generate-tmlanguage.ts */
import { writeFileSync } from "node:fs";
import { KEYWORDS } from "../src/parse.ts";
const types = [
  "BOOLEAN",
  "INT",
  "INTEGER",
  "BIGINT",
  "DOUBLE",
  "DECIMAL",
  "DEC",
  "STRING",
  "VARCHAR",
  "BYTES",
  "DATE",
  "TIME",
  "TIMESTAMP",
  "ARRAY",
  "MAP",
  "STRUCT",
];
const constants = ["TRUE", "FALSE", "NULL"];
const logical = ["AND", "OR", "NOT", "IN", "IS", "LIKE", "BETWEEN"];
const kws = KEYWORDS.filter((k) => !types.includes(k) && !constants.includes(k) && !logical.includes(k));
const alt = (ws: string[]) =>
  `(?i)\\b(?:${[...ws].sort((a, b) => b.length - a.length || a.localeCompare(b)).join("|")})\\b`;
const g = {
  $schema: "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
  name: "esql",
  scopeName: "source.esql",
  fileTypes: ["esql"],
  patterns: [
    { include: "#comments" },
    { include: "#strings" },
    { include: "#quoted-identifiers" },
    { include: "#variables" },
    { include: "#numbers" },
    { include: "#constants" },
    { include: "#types" },
    { include: "#logical-operators" },
    { include: "#keywords" },
    { include: "#functions" },
    { include: "#identifiers" },
    { include: "#operators" },
    { include: "#punctuation" },
  ],
  repository: {
    comments: {
      patterns: [
        { name: "comment.line.double-dash.esql", match: "--.*$" },
        {
          name: "comment.block.esql",
          begin: "/\\*",
          end: "\\*/",
          beginCaptures: {
            0: { name: "punctuation.definition.comment.begin.esql" },
          },
          endCaptures: {
            0: { name: "punctuation.definition.comment.end.esql" },
          },
        },
      ],
    },
    strings: {
      name: "string.quoted.single.esql",
      begin: "'",
      end: "'(?!')",
      beginCaptures: {
        0: { name: "punctuation.definition.string.begin.esql" },
      },
      endCaptures: { 0: { name: "punctuation.definition.string.end.esql" } },
      patterns: [{ name: "constant.character.escape.quote.esql", match: "''" }, { include: "#variables" }],
    },
    "quoted-identifiers": {
      patterns: [
        {
          name: "variable.other.quoted.backtick.esql",
          begin: "`",
          end: "`(?!`)",
          patterns: [{ name: "constant.character.escape.backtick.esql", match: "``" }],
        },
        {
          name: "variable.other.quoted.double.esql",
          begin: '"',
          end: '"(?!")',
          patterns: [
            {
              name: "constant.character.escape.double-quote.esql",
              match: '""',
            },
          ],
        },
      ],
    },
    variables: {
      name: "variable.parameter.substitution.esql",
      match: "\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}",
    },
    numbers: {
      name: "constant.numeric.esql",
      match: "(?<![A-Za-z0-9_@])(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?(?![A-Za-z_@])",
    },
    constants: { name: "constant.language.esql", match: alt(constants) },
    types: { name: "storage.type.esql", match: alt(types) },
    "logical-operators": {
      name: "keyword.operator.logical.esql",
      match: alt(logical),
    },
    keywords: { name: "keyword.other.esql", match: alt(kws) },
    functions: {
      match: "\\b([A-Za-z_][A-Za-z0-9_]*)\\s*(?=\\()",
      captures: { 1: { name: "support.function.esql" } },
    },
    identifiers: {
      name: "variable.other.identifier.esql",
      match: "\\b[A-Za-z_][A-Za-z0-9_@]*",
    },
    operators: {
      name: "keyword.operator.esql",
      match: "=>|->|:=|<>|!=|<=|>=|\\|\\||[=<>+\\-*/%]",
    },
    punctuation: {
      patterns: [
        { name: "punctuation.terminator.statement.esql", match: ";" },
        { name: "punctuation.separator.comma.esql", match: "," },
        { name: "punctuation.accessor.esql", match: "\\." },
        { name: "punctuation.section.brackets.esql", match: "[\\[\\]()]" },
      ],
    },
  },
};
writeFileSync(new URL("./esql.tmLanguage.json", import.meta.url), JSON.stringify(g, null, 2) + "\n");
