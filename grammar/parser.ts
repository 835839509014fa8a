/**
 * The chevrotain CST parser for one statement of the esql (ksqlDB) dialect.
 *
 * The grammar is deliberately a little looser than the language where a precise rule would need
 * long lookahead; `src/ast/build.ts` checks the rest and reports it as syntax errors:
 * - `( a, b )` parses as a parenthesised list everywhere; it is only valid as lambda parameters
 *   (`(a, b) => ...`) or as the whole of a GROUP BY / PARTITION BY list;
 * - a lambda parses wherever an expression does; it is only valid as a function argument;
 * - `expr->*` parses as a postfix; it is only valid as a whole select item;
 * - window parameters parse as a list of `SIZE d | ADVANCE BY d | RETENTION d | GRACE PERIOD d | d`;
 * - a type is `name [(n, ...)]` unless it is ARRAY/MAP/STRUCT; the builder resolves the name.
 *
 * Use the module-level {@link parser} singleton: building a chevrotain parser is expensive.
 * Error messages are produced by {@link errorMessageProvider} as JSON (see {@link SyntaxErrorInfo})
 * so that `src/parse.ts` can turn them into short diagnostics with hints.
 */
import { CstParser, type IParserErrorMessageProvider, type TokenType } from "chevrotain";
import {
  ALL_TOKENS,
  AnyIdent,
  Arrow,
  ColonEquals,
  Comma,
  Concat,
  DecimalLiteral,
  Deref,
  Dot,
  DoubleLiteral,
  Equals,
  Greater,
  GreaterEquals,
  IntegerLiteral,
  K,
  LBracket,
  Less,
  LessEquals,
  LParen,
  Minus,
  NotEquals,
  Percent,
  Plus,
  RBracket,
  RParen,
  Slash,
  Star,
  StringLiteral,
} from "./tokens.ts";

/** What a syntax error is about, carried from chevrotain to `src/parse.ts` inside the message. */
export interface SyntaxErrorInfo {
  /** Labels of the tokens that would have been accepted, e.g. `')'`, `'FROM'`, `an identifier`. */
  readonly expected: readonly string[];
  /** The rule that failed (for a description when `expected` is long). */
  readonly rule: string;
  /** Set when the custom description of an alternation applies. */
  readonly description?: string;
}

function label(t: TokenType): string {
  return t.LABEL ?? t.name;
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}

export const errorMessageProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, ruleName }) {
    return JSON.stringify({ expected: [label(expected)], rule: ruleName } satisfies SyntaxErrorInfo);
  },
  buildNotAllInputParsedMessage({ ruleName }) {
    return JSON.stringify({ expected: ["';'"], rule: ruleName } satisfies SyntaxErrorInfo);
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, customUserDescription, ruleName }) {
    const firsts = uniq(expectedPathsPerAlt.flatMap((paths) => paths.map((p) => label(p[0]!))));
    const info: SyntaxErrorInfo =
      customUserDescription === undefined
        ? { expected: firsts, rule: ruleName }
        : { expected: firsts, rule: ruleName, description: customUserDescription };
    return JSON.stringify(info);
  },
  buildEarlyExitMessage({ expectedIterationPaths, customUserDescription, ruleName }) {
    const firsts = uniq(expectedIterationPaths.map((p) => label(p[0]!)));
    const info: SyntaxErrorInfo =
      customUserDescription === undefined
        ? { expected: firsts, rule: ruleName }
        : { expected: firsts, rule: ruleName, description: customUserDescription };
    return JSON.stringify(info);
  },
};

const TIME_UNITS = [
  K.Millisecond,
  K.Milliseconds,
  K.Second,
  K.Seconds,
  K.Minute,
  K.Minutes,
  K.Hour,
  K.Hours,
  K.Day,
  K.Days,
];
const WINDOW_TYPES: readonly TokenType[] = [K.Tumbling, K.Hopping, K.Session];
/** Defined (by scripts/build.ts) in the build only. */
declare const ESQL_BUILT_GRAMMAR_VALIDATED: true | undefined;

const COMPARISON = [Equals, NotEquals, Less, LessEquals, Greater, GreaterEquals];

class EsqlParser extends CstParser {
  /**
   * Alternatives of each OR, built once: creating the closures on every call (and, under tsx,
   * naming each of them) cost a third of the parse time. Ids are unique per OR call site.
   */
  private readonly memos: unknown[] = [];
  private memo<T>(id: number, make: () => T): T {
    return (this.memos[id] ??= make()) as T;
  }

  constructor() {
    super(ALL_TOKENS, {
      recoveryEnabled: false,
      maxLookahead: 3,
      nodeLocationTracking: "full",
      errorMessageProvider,
      // chevrotain's grammar validations are a third of the parser's construction: the build (scripts/build.ts)
      // skips them, having loaded this grammar from the sources, where they run, before bundling it.
      skipValidations: typeof ESQL_BUILT_GRAMMAR_VALIDATED !== "undefined",
    });
    this.performSelfAnalysis();
  }

  // -------------------------------------------------------------------------------------------
  // Statements

  statement = this.RULE("statement", () => {
    this.OR(
      this.memo(0, () => ({
        ERR_MSG: "a statement",
        DEF: [
          { ALT: () => this.SUBRULE(this.createStatement) },
          { ALT: () => this.SUBRULE(this.insertStatement) },
          { ALT: () => this.SUBRULE(this.dropStatement) },
          { ALT: () => this.SUBRULE(this.queryStatement) },
          { ALT: () => this.SUBRULE(this.terminateStatement) },
          { ALT: () => this.SUBRULE(this.defineStatement) },
          { ALT: () => this.SUBRULE(this.undefineStatement) },
          { ALT: () => this.SUBRULE(this.setStatement) },
          { ALT: () => this.SUBRULE(this.unsetStatement) },
          { ALT: () => this.SUBRULE(this.showStatement) },
          { ALT: () => this.SUBRULE(this.describeStatement) },
          { ALT: () => this.SUBRULE(this.explainStatement) },
          { ALT: () => this.SUBRULE(this.printStatement) },
          { ALT: () => this.SUBRULE(this.runScriptStatement) },
        ],
      })),
    );
  });

  createStatement = this.RULE("createStatement", () => {
    this.CONSUME(K.Create);
    this.OR(
      this.memo(1, () => [
        {
          ALT: () => {
            this.CONSUME(K.Type);
            this.OPTION(() => this.SUBRULE(this.ifNotExists));
            this.SUBRULE(this.identifier, { LABEL: "name" });
            this.CONSUME(K.As);
            this.SUBRULE(this.type);
          },
        },
        {
          ALT: () => {
            this.OPTION2(() => {
              this.CONSUME(K.Or);
              this.CONSUME(K.Replace);
            });
            this.OPTION3(() => this.CONSUME(K.Source));
            this.OR2(
              this.memo(29, () => [
                { ALT: () => this.CONSUME(K.Stream, { LABEL: "sourceType" }) },
                { ALT: () => this.CONSUME(K.Table, { LABEL: "sourceType" }) },
              ]),
            );
            this.OPTION4(() => this.SUBRULE2(this.ifNotExists));
            this.SUBRULE2(this.identifier, { LABEL: "name" });
            this.OPTION5(() => {
              this.CONSUME(LParen);
              this.SUBRULE(this.tableElement, { LABEL: "elements" });
              this.MANY(() => {
                this.CONSUME(Comma);
                this.SUBRULE2(this.tableElement, { LABEL: "elements" });
              });
              this.CONSUME(RParen);
            });
            this.OPTION6(() => this.SUBRULE(this.withProperties));
            this.OPTION7(() => {
              this.CONSUME2(K.As, { LABEL: "asQuery" });
              this.SUBRULE(this.query);
            });
          },
        },
      ]),
    );
  });

  ifNotExists = this.RULE("ifNotExists", () => {
    this.CONSUME(K.If);
    this.CONSUME(K.Not);
    this.CONSUME(K.Exists);
  });

  ifExists = this.RULE("ifExists", () => {
    this.CONSUME(K.If);
    this.CONSUME(K.Exists);
  });

  tableElement = this.RULE("tableElement", () => {
    this.SUBRULE(this.identifier, { LABEL: "name" });
    this.SUBRULE(this.type);
    this.OPTION(() => {
      this.OR(
        this.memo(2, () => [
          { ALT: () => this.CONSUME(K.Key) },
          {
            ALT: () => {
              this.CONSUME(K.Primary);
              this.CONSUME2(K.Key);
            },
          },
          { ALT: () => this.CONSUME(K.Headers) },
          {
            ALT: () => {
              this.CONSUME(K.Header);
              this.CONSUME(LParen);
              this.CONSUME(StringLiteral, { LABEL: "headerKey" });
              this.CONSUME(RParen);
            },
          },
        ]),
      );
    });
  });

  withProperties = this.RULE("withProperties", () => {
    this.CONSUME(K.With);
    this.CONSUME(LParen);
    this.SUBRULE(this.property);
    this.MANY(() => {
      this.CONSUME(Comma);
      this.SUBRULE2(this.property);
    });
    this.CONSUME(RParen);
  });

  property = this.RULE("property", () => {
    this.SUBRULE(this.identifier, { LABEL: "name" });
    this.CONSUME(Equals);
    this.SUBRULE(this.literal);
  });

  insertStatement = this.RULE("insertStatement", () => {
    this.CONSUME(K.Insert);
    this.CONSUME(K.Into);
    this.SUBRULE(this.identifier, { LABEL: "target" });
    this.OR(
      this.memo(3, () => [
        {
          ALT: () => {
            this.OPTION(() => {
              this.CONSUME(LParen, { LABEL: "columnsOpen" });
              this.SUBRULE2(this.identifier, { LABEL: "columns" });
              this.MANY(() => {
                this.CONSUME(Comma);
                this.SUBRULE3(this.identifier, { LABEL: "columns" });
              });
              this.CONSUME(RParen);
            });
            this.CONSUME(K.Values);
            this.CONSUME2(LParen);
            this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.expression, { LABEL: "values" }) });
            this.CONSUME2(RParen);
          },
        },
        {
          ALT: () => {
            this.OPTION2(() => this.SUBRULE(this.withProperties));
            this.SUBRULE(this.query);
          },
        },
      ]),
    );
  });

  dropStatement = this.RULE("dropStatement", () => {
    this.CONSUME(K.Drop);
    this.OR(
      this.memo(4, () => [
        {
          ALT: () => {
            this.OR2(
              this.memo(30, () => [
                { ALT: () => this.CONSUME(K.Stream, { LABEL: "sourceType" }) },
                { ALT: () => this.CONSUME(K.Table, { LABEL: "sourceType" }) },
              ]),
            );
            this.OPTION(() => this.SUBRULE(this.ifExists));
            this.SUBRULE(this.identifier, { LABEL: "name" });
            this.OPTION2(() => {
              this.CONSUME(K.Delete);
              this.CONSUME(K.Topic);
            });
          },
        },
        {
          ALT: () => {
            this.CONSUME(K.Type);
            this.OPTION3(() => this.SUBRULE2(this.ifExists));
            this.SUBRULE2(this.identifier, { LABEL: "name" });
          },
        },
      ]),
    );
  });

  terminateStatement = this.RULE("terminateStatement", () => {
    this.CONSUME(K.Terminate);
    this.OR(
      this.memo(5, () => ({
        IGNORE_AMBIGUITIES: true,
        DEF: [{ ALT: () => this.CONSUME(K.All) }, { ALT: () => this.SUBRULE(this.identifier, { LABEL: "queryId" }) }],
      })),
    );
  });

  defineStatement = this.RULE("defineStatement", () => {
    this.CONSUME(K.Define);
    this.SUBRULE(this.identifier, { LABEL: "name" });
    this.CONSUME(Equals);
    this.CONSUME(StringLiteral, { LABEL: "value" });
  });

  undefineStatement = this.RULE("undefineStatement", () => {
    this.CONSUME(K.Undefine);
    this.SUBRULE(this.identifier, { LABEL: "name" });
  });

  setStatement = this.RULE("setStatement", () => {
    this.CONSUME(K.Set);
    this.CONSUME(StringLiteral, { LABEL: "name" });
    this.CONSUME(Equals);
    this.CONSUME2(StringLiteral, { LABEL: "value" });
  });

  unsetStatement = this.RULE("unsetStatement", () => {
    this.CONSUME(K.Unset);
    this.CONSUME(StringLiteral, { LABEL: "name" });
  });

  showStatement = this.RULE("showStatement", () => {
    this.OR(this.memo(6, () => [{ ALT: () => this.CONSUME(K.Show) }, { ALT: () => this.CONSUME(K.List) }]));
    // `SHOW ALL TOPICS` lists internal topics too (ksqlDB accepts ALL before TOPICS only: checked by the analyzer).
    this.OPTION2(() => this.CONSUME(K.All));
    this.OR2(
      this.memo(7, () => ({
        ERR_MSG: "STREAMS, TABLES, QUERIES, TOPICS, FUNCTIONS, PROPERTIES, VARIABLES or TYPES",
        DEF: [K.Streams, K.Tables, K.Queries, K.Topics, K.Functions, K.Properties, K.Variables, K.Types].map((t) => ({
          ALT: () => this.CONSUME(t, { LABEL: "what" }),
        })),
      })),
    );
    this.OPTION(() => this.CONSUME(K.Extended));
  });

  describeStatement = this.RULE("describeStatement", () => {
    this.CONSUME(K.Describe);
    this.OR(
      this.memo(8, () => ({
        IGNORE_AMBIGUITIES: true,
        DEF: [
          {
            ALT: () => {
              this.OR2(
                this.memo(31, () => [
                  { ALT: () => this.CONSUME(K.Streams, { LABEL: "all" }) },
                  { ALT: () => this.CONSUME(K.Tables, { LABEL: "all" }) },
                ]),
              );
              this.OPTION(() => this.CONSUME(K.Extended));
            },
          },
          {
            ALT: () => {
              this.CONSUME(K.Function);
              this.SUBRULE(this.identifier, { LABEL: "functionName" });
            },
          },
          {
            ALT: () => {
              this.OPTION2(() => this.CONSUME2(K.Extended));
              this.SUBRULE2(this.identifier, { LABEL: "name" });
            },
          },
        ],
      })),
    );
  });

  explainStatement = this.RULE("explainStatement", () => {
    this.CONSUME(K.Explain);
    this.OR(
      this.memo(9, () => [
        { ALT: () => this.SUBRULE(this.createStatement) },
        { ALT: () => this.SUBRULE(this.insertStatement) },
        { ALT: () => this.SUBRULE(this.queryStatement) },
        { ALT: () => this.SUBRULE(this.identifier, { LABEL: "queryId" }) },
      ]),
    );
  });

  printStatement = this.RULE("printStatement", () => {
    this.CONSUME(K.Print);
    this.OR(
      this.memo(10, () => [
        { ALT: () => this.SUBRULE(this.identifier, { LABEL: "topic" }) },
        { ALT: () => this.CONSUME(StringLiteral, { LABEL: "topicString" }) },
      ]),
    );
    this.OPTION(() => {
      this.CONSUME(K.From);
      this.CONSUME(K.Beginning);
    });
    this.OPTION2(() => {
      this.CONSUME(K.Interval);
      this.CONSUME(IntegerLiteral, { LABEL: "interval" });
    });
    this.OPTION3(() => {
      this.CONSUME(K.Limit);
      this.CONSUME2(IntegerLiteral, { LABEL: "limit" });
    });
  });

  runScriptStatement = this.RULE("runScriptStatement", () => {
    this.CONSUME(K.Run);
    this.CONSUME(K.Script);
    this.CONSUME(StringLiteral, { LABEL: "path" });
  });

  queryStatement = this.RULE("queryStatement", () => {
    this.SUBRULE(this.query);
  });

  // -------------------------------------------------------------------------------------------
  // Queries

  query = this.RULE("query", () => {
    this.CONSUME(K.Select);
    this.SUBRULE(this.selectItem, { LABEL: "items" });
    this.MANY(() => {
      this.CONSUME(Comma);
      this.SUBRULE2(this.selectItem, { LABEL: "items" });
    });
    this.CONSUME(K.From);
    this.SUBRULE(this.relation);
    this.OPTION(() => {
      this.CONSUME(K.Window);
      this.SUBRULE(this.windowExpression);
    });
    this.OPTION2(() => {
      this.CONSUME(K.Where);
      this.SUBRULE(this.expression, { LABEL: "where" });
    });
    this.OPTION3(() => {
      this.CONSUME(K.Group);
      this.CONSUME(K.By);
      this.SUBRULE(this.groupingList, { LABEL: "groupBy" });
    });
    this.OPTION4(() => {
      this.CONSUME(K.Partition);
      this.CONSUME2(K.By);
      this.SUBRULE2(this.groupingList, { LABEL: "partitionBy" });
    });
    this.OPTION5(() => {
      this.CONSUME(K.Having);
      this.SUBRULE2(this.expression, { LABEL: "having" });
    });
    this.OPTION6(() => {
      this.CONSUME(K.Emit);
      this.OR(
        this.memo(11, () => [
          { ALT: () => this.CONSUME(K.Changes, { LABEL: "emitMode" }) },
          { ALT: () => this.CONSUME(K.Final, { LABEL: "emitMode" }) },
        ]),
      );
    });
    this.OPTION7(() => {
      this.CONSUME(K.Limit);
      this.CONSUME(IntegerLiteral, { LABEL: "limit" });
    });
  });

  expressionList = this.RULE("expressionList", () => {
    this.SUBRULE(this.expression, { LABEL: "items" });
    this.MANY(() => {
      this.CONSUME(Comma);
      this.SUBRULE2(this.expression, { LABEL: "items" });
    });
  });

  /** GROUP BY / PARTITION BY items are value expressions: `a AND b` needs parentheses, as in ksqlDB. */
  groupingList = this.RULE("groupingList", () => {
    this.SUBRULE(this.concatExpression, { LABEL: "items" });
    this.MANY(() => {
      this.CONSUME(Comma);
      this.SUBRULE2(this.concatExpression, { LABEL: "items" });
    });
  });

  selectItem = this.RULE("selectItem", () => {
    this.OR(
      this.memo(12, () => ({
        ERR_MSG: "'*' or an expression",
        DEF: [
          { ALT: () => this.CONSUME(Star) },
          {
            ALT: () => {
              this.SUBRULE(this.identifier, { LABEL: "qualifier" });
              this.CONSUME(Dot);
              this.CONSUME2(Star);
            },
          },
          {
            ALT: () => {
              this.SUBRULE(this.expression);
              this.OPTION(() => {
                this.OPTION2(() => this.CONSUME(K.As));
                this.SUBRULE2(this.identifier, { LABEL: "alias" });
              });
            },
          },
        ],
      })),
    );
  });

  relation = this.RULE("relation", () => {
    this.SUBRULE(this.aliasedSource, { LABEL: "first" });
    this.MANY(() => this.SUBRULE(this.joinClause, { LABEL: "joins" }));
  });

  aliasedSource = this.RULE("aliasedSource", () => {
    this.SUBRULE(this.identifier, { LABEL: "name" });
    // SQL:2011's `FOR SYSTEM_TIME AS OF <time>` (a table with HISTORY_RETENTION). FOR is not reserved: it is
    // this clause only when SYSTEM_TIME follows, an alias otherwise.
    this.OPTION3({
      GATE: () => this.LA(1).tokenType === K.For && this.LA(2).tokenType === K.SystemTime,
      DEF: () => {
        this.CONSUME(K.For);
        this.CONSUME(K.SystemTime);
        this.CONSUME2(K.As);
        this.CONSUME(K.Of);
        this.SUBRULE(this.expression, { LABEL: "asOf" });
      },
    });
    this.OPTION(() => {
      this.OPTION2(() => this.CONSUME(K.As));
      this.SUBRULE2(this.identifier, { LABEL: "alias" });
    });
  });

  joinClause = this.RULE("joinClause", () => {
    this.OPTION(() => {
      this.OR(
        this.memo(13, () => [
          { ALT: () => this.CONSUME(K.Inner, { LABEL: "joinType" }) },
          {
            ALT: () => {
              this.OR2(
                this.memo(32, () => [
                  { ALT: () => this.CONSUME(K.Left, { LABEL: "joinType" }) },
                  { ALT: () => this.CONSUME(K.Right, { LABEL: "joinType" }) },
                  { ALT: () => this.CONSUME(K.Full, { LABEL: "joinType" }) },
                ]),
              );
              this.OPTION2(() => this.CONSUME(K.Outer));
            },
          },
        ]),
      );
    });
    this.CONSUME(K.Join);
    this.SUBRULE(this.aliasedSource, { LABEL: "right" });
    this.OPTION3(() => this.SUBRULE(this.within));
    this.CONSUME(K.On);
    this.SUBRULE(this.expression, { LABEL: "on" });
  });

  within = this.RULE("within", () => {
    this.CONSUME(K.Within);
    this.OR(
      this.memo(14, () => [
        {
          ALT: () => {
            this.CONSUME(LParen);
            this.SUBRULE(this.duration, { LABEL: "before" });
            this.CONSUME(Comma);
            this.SUBRULE2(this.duration, { LABEL: "after" });
            this.CONSUME(RParen);
          },
        },
        { ALT: () => this.SUBRULE3(this.duration, { LABEL: "both" }) },
      ]),
    );
    this.OPTION(() => {
      this.CONSUME(K.Grace);
      this.CONSUME(K.Period);
      this.SUBRULE4(this.duration, { LABEL: "grace" });
    });
  });

  duration = this.RULE("duration", () => {
    this.CONSUME(IntegerLiteral, { LABEL: "value" });
    this.OR(
      this.memo(15, () => ({
        ERR_MSG: "a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS)",
        DEF: TIME_UNITS.map((t) => ({ ALT: () => this.CONSUME(t, { LABEL: "unit" }) })),
      })),
    );
  });

  windowExpression = this.RULE("windowExpression", () => {
    // ksqlDB accepts (and ignores) a window name: `WINDOW w TUMBLING (...)`.
    this.OPTION({
      GATE: () => WINDOW_TYPES.includes(this.LA(2).tokenType),
      DEF: () => this.SUBRULE(this.identifier, { LABEL: "windowName" }),
    });
    this.OR(
      this.memo(16, () => ({
        ERR_MSG: "TUMBLING, HOPPING or SESSION",
        DEF: [
          { ALT: () => this.CONSUME(K.Tumbling, { LABEL: "windowType" }) },
          { ALT: () => this.CONSUME(K.Hopping, { LABEL: "windowType" }) },
          { ALT: () => this.CONSUME(K.Session, { LABEL: "windowType" }) },
        ],
      })),
    );
    this.CONSUME(LParen);
    this.SUBRULE(this.windowParam, { LABEL: "params" });
    this.MANY(() => {
      this.CONSUME(Comma);
      this.SUBRULE2(this.windowParam, { LABEL: "params" });
    });
    this.CONSUME(RParen);
  });

  windowParam = this.RULE("windowParam", () => {
    this.OR(
      this.memo(17, () => ({
        ERR_MSG: "SIZE, ADVANCE BY, RETENTION, GRACE PERIOD or a duration",
        DEF: [
          { ALT: () => this.CONSUME(K.Size, { LABEL: "param" }) },
          {
            ALT: () => {
              this.CONSUME(K.Advance, { LABEL: "param" });
              this.CONSUME(K.By);
            },
          },
          { ALT: () => this.CONSUME(K.Retention, { LABEL: "param" }) },
          {
            ALT: () => {
              this.CONSUME(K.Grace, { LABEL: "param" });
              this.CONSUME(K.Period);
            },
          },
          { ALT: () => {} },
        ],
      })),
    );
    this.SUBRULE(this.duration);
  });

  // -------------------------------------------------------------------------------------------
  // Types

  type = this.RULE("type", () => {
    this.OR(
      this.memo(18, () => ({
        IGNORE_AMBIGUITIES: true,
        ERR_MSG: "a type",
        DEF: [
          {
            ALT: () => {
              this.CONSUME(K.Array);
              this.CONSUME(Less);
              this.SUBRULE(this.type, { LABEL: "element" });
              this.CONSUME(Greater);
            },
          },
          {
            ALT: () => {
              this.CONSUME(K.Map);
              this.CONSUME2(Less);
              this.SUBRULE2(this.type, { LABEL: "key" });
              this.CONSUME(Comma);
              this.SUBRULE3(this.type, { LABEL: "value" });
              this.CONSUME2(Greater);
            },
          },
          {
            ALT: () => {
              this.CONSUME(K.Struct);
              this.OR2(
                this.memo(33, () => [
                  // `STRUCT<>` lexes as STRUCT followed by the `<>` operator.
                  { ALT: () => this.CONSUME(NotEquals) },
                  {
                    ALT: () => {
                      this.CONSUME3(Less);
                      this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.structFieldType, { LABEL: "fields" }) });
                      this.CONSUME3(Greater);
                    },
                  },
                ]),
              );
            },
          },
          {
            ALT: () => {
              this.SUBRULE(this.identifier, { LABEL: "name" });
              this.OPTION(() => {
                this.CONSUME(LParen);
                this.SUBRULE(this.typeParameter, { LABEL: "params" });
                this.MANY(() => {
                  this.CONSUME2(Comma);
                  this.SUBRULE2(this.typeParameter, { LABEL: "params" });
                });
                this.CONSUME(RParen);
              });
            },
          },
        ],
      })),
    );
  });

  /** ksqlDB also accepts the word STRING as a type parameter (`VARCHAR(STRING)`). */
  typeParameter = this.RULE("typeParameter", () => {
    this.OR(
      this.memo(19, () => [
        { ALT: () => this.CONSUME(IntegerLiteral, { LABEL: "value" }) },
        { ALT: () => this.SUBRULE(this.identifier, { LABEL: "word" }) },
      ]),
    );
  });

  structFieldType = this.RULE("structFieldType", () => {
    this.SUBRULE(this.identifier, { LABEL: "name" });
    this.SUBRULE(this.type);
  });

  // -------------------------------------------------------------------------------------------
  // Expressions, lowest precedence first

  expression = this.RULE("expression", () => {
    this.SUBRULE(this.orExpression);
  });

  orExpression = this.RULE("orExpression", () => {
    this.SUBRULE(this.andExpression, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(K.Or);
      this.SUBRULE2(this.andExpression, { LABEL: "operands" });
    });
  });

  andExpression = this.RULE("andExpression", () => {
    this.SUBRULE(this.notExpression, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(K.And);
      this.SUBRULE2(this.notExpression, { LABEL: "operands" });
    });
  });

  notExpression = this.RULE("notExpression", () => {
    this.OR(
      this.memo(20, () => ({
        ERR_MSG: "an expression",
        DEF: [
          {
            ALT: () => {
              this.CONSUME(K.Not);
              this.SUBRULE(this.notExpression, { LABEL: "negated" });
            },
          },
          { ALT: () => this.SUBRULE(this.predicated) },
        ],
      })),
    );
  });

  /** A value expression with at most one comparison/IS/BETWEEN/IN/LIKE after it (they do not chain). */
  predicated = this.RULE("predicated", () => {
    this.SUBRULE(this.concatExpression, { LABEL: "operand" });
    this.OPTION(() => {
      this.OR(
        this.memo(21, () => [
          {
            ALT: () => {
              this.OR2(
                this.memo(34, () => COMPARISON.map((t) => ({ ALT: () => this.CONSUME(t, { LABEL: "comparison" }) }))),
              );
              this.SUBRULE2(this.concatExpression, { LABEL: "right" });
            },
          },
          {
            ALT: () => {
              this.CONSUME(K.Is);
              this.OPTION2(() => this.CONSUME(K.Not, { LABEL: "not" }));
              this.OR3(
                this.memo(35, () => [
                  { ALT: () => this.CONSUME(K.Null, { LABEL: "isNull" }) },
                  {
                    ALT: () => {
                      this.CONSUME(K.Distinct, { LABEL: "isDistinct" });
                      this.CONSUME(K.From);
                      this.SUBRULE3(this.concatExpression, { LABEL: "right" });
                    },
                  },
                ]),
              );
            },
          },
          {
            ALT: () => {
              this.OPTION3(() => this.CONSUME2(K.Not, { LABEL: "not" }));
              this.OR4(
                this.memo(36, () => [
                  {
                    ALT: () => {
                      this.CONSUME(K.Between, { LABEL: "between" });
                      this.SUBRULE4(this.concatExpression, { LABEL: "low" });
                      this.CONSUME(K.And);
                      this.SUBRULE5(this.concatExpression, { LABEL: "high" });
                    },
                  },
                  {
                    ALT: () => {
                      this.CONSUME(K.In, { LABEL: "in" });
                      this.CONSUME(LParen);
                      this.SUBRULE(this.expressionList, { LABEL: "items" });
                      this.CONSUME(RParen);
                    },
                  },
                  {
                    ALT: () => {
                      this.CONSUME(K.Like, { LABEL: "like" });
                      this.SUBRULE6(this.concatExpression, { LABEL: "pattern" });
                      this.OPTION4(() => {
                        this.CONSUME(K.Escape);
                        this.SUBRULE7(this.concatExpression, { LABEL: "escape" });
                      });
                    },
                  },
                ]),
              );
            },
          },
        ]),
      );
    });
  });

  concatExpression = this.RULE("concatExpression", () => {
    this.SUBRULE(this.additiveExpression, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(Concat, { LABEL: "ops" });
      this.SUBRULE2(this.additiveExpression, { LABEL: "operands" });
    });
  });

  additiveExpression = this.RULE("additiveExpression", () => {
    this.SUBRULE(this.multiplicativeExpression, { LABEL: "operands" });
    this.MANY(() => {
      this.OR(
        this.memo(22, () => [
          { ALT: () => this.CONSUME(Plus, { LABEL: "ops" }) },
          { ALT: () => this.CONSUME(Minus, { LABEL: "ops" }) },
        ]),
      );
      this.SUBRULE2(this.multiplicativeExpression, { LABEL: "operands" });
    });
  });

  multiplicativeExpression = this.RULE("multiplicativeExpression", () => {
    this.SUBRULE(this.unaryExpression, { LABEL: "operands" });
    this.MANY(() => {
      this.OR(
        this.memo(23, () => [
          { ALT: () => this.CONSUME(Star, { LABEL: "ops" }) },
          { ALT: () => this.CONSUME(Slash, { LABEL: "ops" }) },
          { ALT: () => this.CONSUME(Percent, { LABEL: "ops" }) },
        ]),
      );
      this.SUBRULE2(this.unaryExpression, { LABEL: "operands" });
    });
  });

  unaryExpression = this.RULE("unaryExpression", () => {
    this.OR(
      this.memo(24, () => ({
        ERR_MSG: "an expression",
        DEF: [
          {
            ALT: () => {
              this.OR2(
                this.memo(37, () => [
                  { ALT: () => this.CONSUME(Minus, { LABEL: "sign" }) },
                  { ALT: () => this.CONSUME(Plus, { LABEL: "sign" }) },
                ]),
              );
              this.SUBRULE(this.unaryExpression, { LABEL: "operand" });
            },
          },
          { ALT: () => this.SUBRULE(this.postfixExpression) },
        ],
      })),
    );
  });

  /** `primary` followed by `[index]`, `->field` and `->*` in any number, in order. */
  postfixExpression = this.RULE("postfixExpression", () => {
    this.SUBRULE(this.primaryExpression);
    this.MANY(() => {
      this.OR(
        this.memo(25, () => [
          {
            ALT: () => {
              this.CONSUME(LBracket, { LABEL: "postfix" });
              this.SUBRULE(this.expression, { LABEL: "index" });
              this.CONSUME(RBracket, { LABEL: "closers" });
            },
          },
          {
            ALT: () => {
              this.CONSUME(Deref, { LABEL: "postfix" });
              this.OR2(
                this.memo(38, () => [
                  { ALT: () => this.SUBRULE(this.identifier, { LABEL: "field" }) },
                  { ALT: () => this.CONSUME(Star, { LABEL: "field" }) },
                ]),
              );
            },
          },
        ]),
      );
    });
  });

  primaryExpression = this.RULE("primaryExpression", () => {
    this.OR(
      this.memo(26, () => ({
        IGNORE_AMBIGUITIES: true,
        ERR_MSG: "an expression",
        DEF: [
          { ALT: () => this.SUBRULE(this.literal) },
          { ALT: () => this.SUBRULE(this.castExpression) },
          { ALT: () => this.SUBRULE(this.caseExpression) },
          {
            GATE: () => this.LA(2).tokenType === LBracket,
            ALT: () => this.SUBRULE(this.arrayConstructor),
          },
          {
            GATE: () => this.LA(2).tokenType === LParen,
            ALT: () => this.SUBRULE(this.mapConstructor),
          },
          {
            GATE: () => this.LA(2).tokenType === LParen,
            ALT: () => this.SUBRULE(this.structConstructor),
          },
          { ALT: () => this.SUBRULE(this.parenthesized) },
          { ALT: () => this.SUBRULE(this.identifierExpression) },
        ],
      })),
    );
  });

  literal = this.RULE("literal", () => {
    this.OR(
      this.memo(27, () => ({
        ERR_MSG: "a literal",
        DEF: [
          { ALT: () => this.CONSUME(K.Null, { LABEL: "value" }) },
          { ALT: () => this.CONSUME(K.True, { LABEL: "value" }) },
          { ALT: () => this.CONSUME(K.False, { LABEL: "value" }) },
          { ALT: () => this.CONSUME(IntegerLiteral, { LABEL: "value" }) },
          { ALT: () => this.CONSUME(DecimalLiteral, { LABEL: "value" }) },
          { ALT: () => this.CONSUME(DoubleLiteral, { LABEL: "value" }) },
          { ALT: () => this.CONSUME(StringLiteral, { LABEL: "value" }) },
        ],
      })),
    );
  });

  castExpression = this.RULE("castExpression", () => {
    this.CONSUME(K.Cast);
    this.CONSUME(LParen);
    this.SUBRULE(this.expression);
    this.CONSUME(K.As);
    this.SUBRULE(this.type);
    this.CONSUME(RParen);
  });

  caseExpression = this.RULE("caseExpression", () => {
    this.CONSUME(K.Case);
    this.OPTION(() => this.SUBRULE(this.expression, { LABEL: "operand" }));
    this.AT_LEAST_ONE(() => this.SUBRULE(this.whenClause, { LABEL: "whens" }));
    this.OPTION2(() => {
      this.CONSUME(K.Else);
      this.SUBRULE2(this.expression, { LABEL: "else" });
    });
    this.CONSUME(K.End);
  });

  whenClause = this.RULE("whenClause", () => {
    this.CONSUME(K.When);
    this.SUBRULE(this.expression, { LABEL: "when" });
    this.CONSUME(K.Then);
    this.SUBRULE2(this.expression, { LABEL: "then" });
  });

  arrayConstructor = this.RULE("arrayConstructor", () => {
    this.CONSUME(K.Array);
    this.CONSUME(LBracket);
    this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.expression, { LABEL: "items" }) });
    this.CONSUME(RBracket);
  });

  mapConstructor = this.RULE("mapConstructor", () => {
    this.CONSUME(K.Map);
    this.CONSUME(LParen);
    this.MANY_SEP({
      SEP: Comma,
      DEF: () => {
        this.SUBRULE(this.expression, { LABEL: "keys" });
        this.CONSUME(ColonEquals);
        this.SUBRULE2(this.expression, { LABEL: "values" });
      },
    });
    this.CONSUME(RParen);
  });

  structConstructor = this.RULE("structConstructor", () => {
    this.CONSUME(K.Struct);
    this.CONSUME(LParen);
    this.MANY_SEP({
      SEP: Comma,
      DEF: () => {
        this.SUBRULE(this.identifier, { LABEL: "names" });
        this.CONSUME(ColonEquals);
        this.SUBRULE(this.expression, { LABEL: "values" });
      },
    });
    this.CONSUME(RParen);
  });

  /** `( e )`, `( e1, e2, ... )` and lambda parameter lists `(a, b) => body`. */
  parenthesized = this.RULE("parenthesized", () => {
    this.CONSUME(LParen);
    this.SUBRULE(this.expression, { LABEL: "items" });
    this.MANY(() => {
      this.CONSUME(Comma);
      this.SUBRULE2(this.expression, { LABEL: "items" });
    });
    this.CONSUME(RParen);
    this.OPTION(() => {
      this.CONSUME(Arrow);
      this.SUBRULE3(this.expression, { LABEL: "lambdaBody" });
    });
  });

  /** A column reference, a qualified one, a function call or a one-parameter lambda. */
  identifierExpression = this.RULE("identifierExpression", () => {
    this.SUBRULE(this.identifier, { LABEL: "names" });
    this.OPTION(() => {
      this.OR(
        this.memo(28, () => [
          {
            ALT: () => {
              this.CONSUME(LParen, { LABEL: "call" });
              this.OPTION2(() => {
                this.OR2(
                  this.memo(39, () => [
                    { ALT: () => this.CONSUME(Star, { LABEL: "star" }) },
                    {
                      ALT: () => {
                        this.SUBRULE(this.expression, { LABEL: "args" });
                        this.MANY(() => {
                          this.CONSUME(Comma);
                          this.SUBRULE2(this.expression, { LABEL: "args" });
                        });
                      },
                    },
                  ]),
                );
              });
              this.CONSUME(RParen, { LABEL: "close" });
            },
          },
          {
            ALT: () => {
              this.CONSUME(Arrow);
              this.SUBRULE3(this.expression, { LABEL: "lambdaBody" });
            },
          },
          {
            ALT: () => {
              this.AT_LEAST_ONE(() => {
                this.CONSUME(Dot);
                this.SUBRULE2(this.identifier, { LABEL: "names" });
              });
            },
          },
        ]),
      );
    });
  });

  identifier = this.RULE("identifier", () => {
    this.CONSUME(AnyIdent);
  });
}

/** The one parser instance (chevrotain parsers are stateful: set `input`, call a rule, read `errors`). */
export const parser = new EsqlParser();

export type { EsqlParser };
