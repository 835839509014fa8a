import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeKafkaCluster } from "../../runtime/log/kafka.ts";
import { startBroker } from "../../scripts/kafka/broker.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A second broker next to the one the suite shares: the script must pick its own free ports. */
describe("scripts/kafka/broker.ts", () => {
  it("starts a broker that answers clients, and stops it without leftovers", async () => {
    const broker = await startBroker();
    try {
      expect(broker.brokers).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(await describeKafkaCluster({ brokers: [broker.brokers] })).toMatchObject({ brokers: 1 });
      expect(readFileSync(broker.logFile, "utf8")).toContain("Kafka Server started");
    } finally {
      await broker.stop();
    }
    expect(alive(broker.pid)).toBe(false);
    expect(existsSync(broker.dataDir)).toBe(false);
    await expect(describeKafkaCluster({ brokers: [broker.brokers] })).rejects.toThrow();
  });

  it("start, status and stop from the command line", () => {
    const stateDir = mkdtempSync(join(tmpdir(), "esql-kafka-cli-"));
    const env = { ...process.env, KAFKA_STATE_FILE: join(stateDir, "broker.json") };
    const cli = (command: string) =>
      spawnSync(process.execPath, ["--import", "tsx", "scripts/kafka/broker.ts", command], { env, encoding: "utf8" });
    try {
      const start = cli("start");
      expect(start.status, start.stderr).toBe(0);
      expect(start.stdout).toMatch(/^KAFKA_BROKERS=127\.0\.0\.1:\d+$/m);
      const status = cli("status");
      expect(status.status).toBe(0);
      expect(status.stdout).toMatch(/^running: Kafka /);
      const { pid, dataDir } = JSON.parse(readFileSync(env.KAFKA_STATE_FILE, "utf8")) as {
        pid: number;
        dataDir: string;
      };
      expect(alive(pid)).toBe(true);
      expect(cli("stop").status).toBe(0);
      expect(alive(pid)).toBe(false);
      expect(existsSync(dataDir)).toBe(false);
      expect(cli("status").status).toBe(3);
    } finally {
      cli("stop");
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
