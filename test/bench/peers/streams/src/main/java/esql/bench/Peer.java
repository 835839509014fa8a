package esql.bench;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLongArray;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The Kafka Streams peer of `npm run bench:peers`: one of the four benchmark projections, written with the
 * DSL and configured as ksqlDB configures Kafka Streams (default RocksDB stores, a 10 MB record cache,
 * 2 s commit interval, at-least-once), with one stream thread per core.
 *
 * <pre>java -cp 'target/streams-peer.jar:target/libs/*' esql.bench.Peer PROJECTION BROKERS OUT_FILE</pre>
 *
 * Starts from empty state (a fresh application id and state folder), creates its sink topic, runs until
 * every input partition's last offset has been processed (the offsets are taken from the records
 * themselves, against the end offsets read at start; with a repartition topic, also until the group's
 * committed offsets reach the end of it, which can add up to one commit interval), writes the materialized table (projections 2-4) to OUT_FILE as
 * {@code {"tables":{"NAME":[{column: value}]}}} (the shape of {@code esql run --json}), closes (which flushes
 * the caches to the stores, changelogs and sink topic), and prints one line
 * {@code RESULT {"events":..,"processMs":..}}: processMs runs from {@code start()} to caught up plus the
 * close, leaving out the JVM start and the table dump.
 */
public final class Peer {
  static final String EVENTS = "bench_events";
  static final String ACCOUNTS = "bench_accounts";
  static final ObjectMapper JSON =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  /** A value of {@code bench_events}. */
  public static final class Event {
    public String KIND;
    public Double AMOUNT;
    public Integer QTY;
  }

  /** A value of {@code bench_accounts} (null value: a tombstone). */
  public static final class Account {
    public String REGION;
    public Double BALANCE;
  }

  /** The aggregate of projections 2-4: COUNT(*) and SUM(x) (SUM ignores nulls, as in SQL). */
  record Agg(long n, double total) {}

  static final Serde<Agg> AGG =
      Serdes.serdeFrom(
          (Serializer<Agg>)
              (topic, a) -> a == null ? null : ByteBuffer.allocate(16).putLong(a.n).putDouble(a.total).array(),
          (Deserializer<Agg>)
              (topic, b) -> {
                if (b == null) return null;
                ByteBuffer buf = ByteBuffer.wrap(b);
                return new Agg(buf.getLong(), buf.getDouble());
              });

  static <T> Serde<T> json(Class<T> type) {
    return Serdes.serdeFrom(
        (Serializer<T>)
            (topic, v) -> {
              if (v == null) return null;
              try {
                return JSON.writeValueAsBytes(v);
              } catch (Exception e) {
                throw new RuntimeException(e);
              }
            },
        (Deserializer<T>)
            (topic, b) -> {
              if (b == null) return null;
              try {
                return JSON.readValue(b, type);
              } catch (Exception e) {
                return null; // like ksqlDB: an undecodable record is skipped
              }
            });
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  static final Serde<Map<String, Object>> ROW = (Serde) json(Map.class);

  static Map<String, Object> aggRow(Agg a) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("N", a.n);
    m.put("TOTAL", a.total);
    return m;
  }

  /** Records the offset of the last record processed per input partition; forwards every record as is. */
  static final class Tracker<V> implements FixedKeyProcessor<String, V, V> {
    private final AtomicLongArray last;
    private FixedKeyProcessorContext<String, V> context;

    Tracker(AtomicLongArray last) {
      this.last = last;
    }

    @Override
    public void init(FixedKeyProcessorContext<String, V> context) {
      this.context = context;
    }

    @Override
    public void process(FixedKeyRecord<String, V> record) {
      // After the forward: the record has gone through this sub-topology (store and sink included).
      context.forward(record);
      context.recordMetadata().ifPresent(m -> last.set(m.partition(), m.offset()));
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: Peer 1|2|3|4 BROKERS OUT_FILE");
      System.exit(2);
    }
    int projection = Integer.parseInt(args[0]);
    String brokers = args[1];
    Path out = Path.of(args[2]);
    String input = projection == 4 ? ACCOUNTS : EVENTS;

    Properties adminProps = new Properties();
    adminProps.put("bootstrap.servers", brokers);
    Admin admin = Admin.create(adminProps);
    Map<Integer, Long> ends = endOffsets(admin, input);
    // Kafka Streams does not create its sink topic (ksqlDB does, like the source's partitions).
    admin.createTopics(List.of(new NewTopic("p" + projection + "_sink", ends.size(), (short) 1))).all().get();
    long events = ends.values().stream().mapToLong(Long::longValue).sum();
    AtomicLongArray last = new AtomicLongArray(ends.size());
    for (int p = 0; p < ends.size(); p++) last.set(p, -1);

    StreamsBuilder builder = new StreamsBuilder();
    String store = build(builder, projection, last);
    Topology topology = builder.build();

    Path stateDir = Files.createTempDirectory("esql-bench-streams-");
    Properties props = new Properties();
    String appId = "bench-peer-" + projection + "-" + System.nanoTime();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Runtime.getRuntime().availableProcessors());
    // ksqlDB's defaults: ksql.streams.cache.max.bytes.buffering = 10000000, commit.interval.ms = 2000 (not EOS).
    props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 10_000_000L);
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 2000);
    props.put(StreamsConfig.TOPOLOGY_OPTIMIZATION_CONFIG, StreamsConfig.OPTIMIZE);
    props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

    KafkaStreams streams = new KafkaStreams(topology, props);
    long t0 = System.nanoTime();
    streams.start();
    while (!caughtUp(last, ends)) {
      if (streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING) {
        System.err.println("Kafka Streams stopped: " + streams.state());
        System.exit(1);
      }
      Thread.sleep(5);
    }
    // A repartition topic (projection 4) is read by another sub-topology: caught up once the group's
    // committed offsets reach the end of every topic it reads. The input's commit comes with a producer
    // flush, so once it is committed the repartition topics hold everything and their ends are final.
    if (topology.describe().subtopologies().size() > 1) waitForCommits(admin, appId, input);
    long t1 = System.nanoTime();

    Map<String, Object> tables = new LinkedHashMap<>();
    if (store != null) tables.put(store, dump(streams, projection, store));
    JSON.writeValue(out.toFile(), Map.of("tables", tables));

    long t2 = System.nanoTime();
    streams.close(Duration.ofSeconds(60));
    long t3 = System.nanoTime();
    streams.cleanUp();
    deleteRecursively(stateDir.toFile());
    admin.close();
    long processMs = ((t1 - t0) + (t3 - t2)) / 1_000_000;
    System.out.println(
        "RESULT {\"events\":" + events + ",\"processMs\":" + processMs + ",\"caughtUpMs\":" + (t1 - t0) / 1_000_000
            + ",\"closeMs\":" + (t3 - t2) / 1_000_000 + ",\"threads\":" + Runtime.getRuntime().availableProcessors() + "}");
    System.exit(0);
  }

  /** Adds the projection to the builder; returns the name of the table it materializes (null: a stream). */
  static String build(StreamsBuilder builder, int projection, AtomicLongArray last) {
    Serde<String> str = Serdes.String();
    switch (projection) {
      case 1 -> {
        // SELECT k, UCASE(kind) AS kind, amount * 2 AS doubled, qty + 1 AS qty1 WHERE amount > 50 AND kind <> 'fee'
        events(builder, last)
            .filter((k, e) -> e != null && e.AMOUNT != null && e.AMOUNT > 50 && e.KIND != null && !e.KIND.equals("fee"))
            .mapValues(
                e -> {
                  Map<String, Object> m = new LinkedHashMap<>();
                  m.put("KIND", e.KIND.toUpperCase());
                  m.put("DOUBLED", e.AMOUNT * 2);
                  m.put("QTY1", e.QTY == null ? null : e.QTY + 1);
                  return m;
                })
            .to("p1_sink", Produced.with(str, ROW));
        return null;
      }
      case 2 -> {
        events(builder, last)
            .filter((k, e) -> e != null)
            .groupByKey(Grouped.with(str, json(Event.class)))
            .aggregate(
                () -> new Agg(0, 0),
                (k, e, a) -> new Agg(a.n + 1, a.total + (e.AMOUNT == null ? 0 : e.AMOUNT)),
                Materialized.<String, Agg, KeyValueStore<Bytes, byte[]>>as("PER_KEY").withKeySerde(str).withValueSerde(AGG))
            .toStream()
            .mapValues(a -> a == null ? null : aggRow(a))
            .to("p2_sink", Produced.with(str, ROW));
        return "PER_KEY";
      }
      case 3 -> {
        events(builder, last)
            .filter((k, e) -> e != null)
            .groupByKey(Grouped.with(str, json(Event.class)))
            // ksqlDB's default grace period for windows without GRACE PERIOD is 24 hours.
            .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMinutes(1), Duration.ofHours(24)))
            .aggregate(
                () -> new Agg(0, 0),
                (k, e, a) -> new Agg(a.n + 1, a.total + (e.AMOUNT == null ? 0 : e.AMOUNT)),
                Materialized.<String, Agg, WindowStore<Bytes, byte[]>>as("PER_KEY_MINUTE").withKeySerde(str).withValueSerde(AGG))
            .toStream()
            .mapValues(a -> a == null ? null : aggRow(a))
            .to("p3_sink", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 60_000L), ROW));
        return "PER_KEY_MINUTE";
      }
      case 4 -> {
        Serde<Account> account = json(Account.class);
        builder.stream(ACCOUNTS, Consumed.with(str, account))
            .processValues(() -> new Tracker<Account>(last))
            .toTable(Materialized.<String, Account, KeyValueStore<Bytes, byte[]>>as("ACCOUNTS").withKeySerde(str).withValueSerde(account))
            .groupBy((id, a) -> KeyValue.pair(a.REGION, a), Grouped.with(str, account))
            .aggregate(
                () -> new Agg(0, 0),
                (region, a, agg) -> new Agg(agg.n + 1, agg.total + (a.BALANCE == null ? 0 : a.BALANCE)),
                (region, a, agg) -> new Agg(agg.n - 1, agg.total - (a.BALANCE == null ? 0 : a.BALANCE)),
                Materialized.<String, Agg, KeyValueStore<Bytes, byte[]>>as("PER_REGION").withKeySerde(str).withValueSerde(AGG))
            .toStream()
            .mapValues(a -> a == null ? null : aggRow(a))
            .to("p4_sink", Produced.with(str, ROW));
        return "PER_REGION";
      }
      default -> throw new IllegalArgumentException("projection must be 1..4, found " + projection);
    }
  }

  static KStream<String, Event> events(StreamsBuilder builder, AtomicLongArray last) {
    return builder.stream(EVENTS, Consumed.with(Serdes.String(), json(Event.class)))
        .processValues(() -> new Tracker<Event>(last));
  }

  static boolean caughtUp(AtomicLongArray last, Map<Integer, Long> ends) {
    for (Map.Entry<Integer, Long> e : ends.entrySet()) {
      if (last.get(e.getKey()) + 1 < e.getValue()) return false;
    }
    return true;
  }

  static Map<Integer, Long> endOffsets(Admin admin, String topic) throws Exception {
    Map<Integer, Long> ends = new HashMap<>();
    endOffsets(admin, List.of(topic)).forEach((tp, end) -> ends.put(tp.partition(), end));
    return ends;
  }

  static Map<TopicPartition, Long> endOffsets(Admin admin, List<String> topics) throws Exception {
    Map<TopicPartition, OffsetSpec> ask = new HashMap<>();
    for (TopicDescription d : admin.describeTopics(topics).allTopicNames().get().values()) {
      d.partitions().forEach(i -> ask.put(new TopicPartition(d.name(), i.partition()), OffsetSpec.latest()));
    }
    Map<TopicPartition, Long> ends = new HashMap<>();
    admin.listOffsets(ask).all().get().forEach((tp, info) -> ends.put(tp, info.offset()));
    return ends;
  }

  /** Waits until the group's committed offsets reach the end of the input, then of its repartition topics. */
  static void waitForCommits(Admin admin, String appId, String input) throws Exception {
    Map<TopicPartition, Long> inputEnds = endOffsets(admin, List.of(input));
    waitCommitted(admin, appId, inputEnds);
    List<String> repartition = admin.listTopics().names().get().stream()
        .filter(t -> t.startsWith(appId) && t.endsWith("-repartition")).toList();
    waitCommitted(admin, appId, endOffsets(admin, repartition));
  }

  static void waitCommitted(Admin admin, String appId, Map<TopicPartition, Long> ends) throws Exception {
    for (;;) {
      Map<TopicPartition, OffsetAndMetadata> committed =
          admin.listConsumerGroupOffsets(appId).partitionsToOffsetAndMetadata().get();
      boolean done = true;
      for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
        OffsetAndMetadata c = committed.get(e.getKey());
        if (e.getValue() > 0 && (c == null || c.offset() < e.getValue())) done = false;
      }
      if (done) return;
      Thread.sleep(20);
    }
  }

  /** The rows of the materialized table, read through interactive queries (the record cache included). */
  static List<Map<String, Object>> dump(KafkaStreams streams, int projection, String store) throws Exception {
    for (int attempt = 0; ; attempt++) {
      try {
        List<Map<String, Object>> rows = new ArrayList<>();
        if (projection == 3) {
          var s = streams.store(StoreQueryParameters.fromNameAndType(store, QueryableStoreTypes.<String, Agg>windowStore()));
          try (KeyValueIterator<Windowed<String>, Agg> it = s.all()) {
            while (it.hasNext()) {
              KeyValue<Windowed<String>, Agg> kv = it.next();
              Map<String, Object> m = new LinkedHashMap<>();
              m.put("K", kv.key.key());
              m.put("WINDOWSTART", kv.key.window().start());
              m.put("WINDOWEND", kv.key.window().end());
              m.putAll(aggRow(kv.value));
              rows.add(m);
            }
          }
        } else {
          String keyColumn = projection == 4 ? "REGION" : "K";
          var s = streams.store(StoreQueryParameters.fromNameAndType(store, QueryableStoreTypes.<String, Agg>keyValueStore()));
          try (KeyValueIterator<String, Agg> it = s.all()) {
            while (it.hasNext()) {
              KeyValue<String, Agg> kv = it.next();
              Map<String, Object> m = new LinkedHashMap<>();
              m.put(keyColumn, kv.key);
              m.putAll(aggRow(kv.value));
              rows.add(m);
            }
          }
        }
        rows.sort(Comparator.comparing(Object::toString));
        return rows;
      } catch (InvalidStateStoreException e) {
        if (attempt > 200) throw e;
        Thread.sleep(50);
      }
    }
  }

  static void deleteRecursively(File f) {
    File[] children = f.listFiles();
    if (children != null) for (File c : children) deleteRecursively(c);
    f.delete();
  }
}
