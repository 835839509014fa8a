/** The web console's shell: navigation by the URL's hash, sign-in when the server asks for credentials. */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, onUnauthorized, signIn, signOut } from "./api.ts";
import { ProcessingLog } from "./log.tsx";
import { Projections } from "./projections.tsx";
import { Query } from "./query.tsx";
import "./style.css";
import { Topology } from "./topology.tsx";

const PAGES = [
  ["projections", "Projections"],
  ["topology", "Topology"],
  ["query", "Query"],
  ["log", "Processing log"],
] as const;

function route(): { page: string; arg?: string } {
  const [page = "projections", arg] = location.hash.replace(/^#\/?/, "").split("/");
  return { page: page || "projections", ...(arg ? { arg: decodeURIComponent(arg) } : {}) };
}

function SignIn(props: { done: () => void }) {
  const [mode, setMode] = useState<"key" | "basic">("key");
  const [a, setA] = useState("");
  const [b, setB] = useState("");
  return (
    <form
      class="signin"
      onSubmit={(e) => {
        e.preventDefault();
        signIn(mode === "key" ? { apiKey: a } : { user: a, password: b });
        props.done();
      }}
    >
      <h2>Sign in</h2>
      <p class="muted">This server needs credentials: an API key, or a user and password.</p>
      <div class="modes">
        <label>
          <input type="radio" checked={mode === "key"} onChange={() => setMode("key")} /> API key
        </label>
        <label>
          <input type="radio" checked={mode === "basic"} onChange={() => setMode("basic")} /> User and password
        </label>
      </div>
      {mode === "key" ? (
        <input
          name="apiKey"
          type="password"
          placeholder="API key"
          value={a}
          onInput={(e) => setA((e.target as HTMLInputElement).value)}
        />
      ) : (
        <>
          <input name="user" placeholder="User" value={a} onInput={(e) => setA((e.target as HTMLInputElement).value)} />
          <input
            name="password"
            type="password"
            placeholder="Password"
            value={b}
            onInput={(e) => setB((e.target as HTMLInputElement).value)}
          />
        </>
      )}
      <button class="primary" type="submit">
        Sign in
      </button>
    </form>
  );
}

function App() {
  const [r, setR] = useState(route());
  const [needAuth, setNeedAuth] = useState(false);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const onHash = () => setR(route());
    addEventListener("hashchange", onHash);
    const off = onUnauthorized(() => setNeedAuth(true));
    return () => {
      removeEventListener("hashchange", onHash);
      off();
    };
  }, []);
  const go = (hash: string) => {
    location.hash = hash;
  };
  return (
    <div class="shell">
      <nav>
        <div class="brand">esql</div>
        {PAGES.map(([id, label]) => (
          <a key={id} href={`#/${id}`} class={r.page === id ? "active" : ""} data-page={id}>
            {label}
          </a>
        ))}
        <div class="grow" />
        <a
          href="#"
          class="muted small"
          onClick={(e) => {
            e.preventDefault();
            signOut();
            setNeedAuth(true);
          }}
        >
          Sign out
        </a>
      </nav>
      <main key={generation}>
        {needAuth ? (
          <SignIn
            done={() => {
              setNeedAuth(false);
              setGeneration(generation + 1);
            }}
          />
        ) : r.page === "topology" ? (
          <Topology {...(r.arg ? { selected: r.arg } : {})} />
        ) : r.page === "query" ? (
          <Query />
        ) : r.page === "log" ? (
          <ProcessingLog {...(r.arg ? { query: r.arg } : {})} go={go} />
        ) : (
          <Projections {...(r.arg ? { selected: r.arg } : {})} go={go} />
        )}
      </main>
    </div>
  );
}

// Errors nobody caught (a failed request in an effect) are shown, not lost.
addEventListener("unhandledrejection", (e) => {
  if (e.reason instanceof ApiError && e.reason.status === 401) e.preventDefault();
});

render(<App />, document.getElementById("app")!);
