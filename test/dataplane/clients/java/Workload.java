// The client-family workload with MySQL Connector/J and HikariCP (see test/dataplane/clients.ts):
// a HikariDataSource of WORKLOAD_CLIENTS connections (autocommit, as Hikari's default) and as many
// threads at once, each holding one pooled connection for its WORKLOAD_STATEMENTS statements:
// statement s of worker w is an INSERT into workload_writes (tag, w, s) when s % 5 == 4 (its id read
// with getGeneratedKeys), else a read of workload_items by primary key ((w * statements + s) mod
// items) + 1, whose note must be note-<id>. The endpoint comes from DB_HOST, DB_PORT, DB_USER,
// DB_PASSWORD, DB_NAME (the password never in argv); prints one JSON line.
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;

public class Workload {
  private static final Object LOCK = new Object();
  private static int reads = 0;
  private static final List<String> WRONG = new ArrayList<>();
  private static final List<long[]> INSERTS = new ArrayList<>();
  private static final Map<String, Integer> ERRORS = new TreeMap<>();

  private static void fail(Throwable e) {
    String key = (e.getClass().getSimpleName() + ": " + e.getMessage());
    if (key.length() > 160) key = key.substring(0, 160);
    synchronized (LOCK) { ERRORS.merge(key, 1, Integer::sum); }
  }

  private static String json(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  /** The version Maven recorded in the jar (META-INF/maven/GROUP/ARTIFACT/pom.properties). */
  private static String mavenVersion(String group, String artifact) throws java.io.IOException {
    try (java.io.InputStream in = Workload.class.getClassLoader()
        .getResourceAsStream("META-INF/maven/" + group + "/" + artifact + "/pom.properties")) {
      if (in == null) return "unknown";
      java.util.Properties p = new java.util.Properties();
      p.load(in);
      return p.getProperty("version", "unknown");
    }
  }

  public static void main(String[] args) throws Exception {
    int clients = Integer.parseInt(System.getenv("WORKLOAD_CLIENTS"));
    int statements = Integer.parseInt(System.getenv("WORKLOAD_STATEMENTS"));
    int items = Integer.parseInt(System.getenv("WORKLOAD_ITEMS"));
    String tag = System.getenv("WORKLOAD_TAG");
    CountDownLatch start = new CountDownLatch(1);
    HikariDataSource[] pool = new HikariDataSource[1];
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      final int w = i;
      Thread t = new Thread(() -> {
        try { start.await(); } catch (InterruptedException e) { fail(e); return; }
        try (Connection c = pool[0].getConnection();
             PreparedStatement read = c.prepareStatement("SELECT id, note FROM workload_items WHERE id = ?");
             PreparedStatement insert = c.prepareStatement(
                 "INSERT INTO workload_writes (tag, worker, seq) VALUES (?, ?, ?)", Statement.RETURN_GENERATED_KEYS)) {
          for (int s = 0; s < statements; s++) {
            try {
              if (s % 5 == 4) {
                insert.setString(1, tag);
                insert.setInt(2, w);
                insert.setInt(3, s);
                insert.executeUpdate();
                try (ResultSet keys = insert.getGeneratedKeys()) {
                  keys.next();
                  long id = keys.getLong(1);
                  synchronized (LOCK) { INSERTS.add(new long[] {id, w, s}); }
                }
              } else {
                int id = (w * statements + s) % items + 1;
                read.setInt(1, id);
                try (ResultSet rs = read.executeQuery()) {
                  String got = rs.next() ? rs.getInt(1) + " " + rs.getString(2) : "no row";
                  boolean ok = got.equals(id + " note-" + id) && !rs.next();
                  synchronized (LOCK) { if (ok) reads++; else WRONG.add("id " + id + ": " + got); }
                }
              }
            } catch (Exception e) {
              fail(e);
            }
          }
        } catch (Exception e) {
          fail(e);
        }
      });
      t.start();
      threads.add(t);
    }
    long t0 = System.nanoTime();
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl("jdbc:mysql://" + System.getenv("DB_HOST") + ":" + System.getenv("DB_PORT") + "/" + System.getenv("DB_NAME"));
    config.setUsername(System.getenv("DB_USER"));
    config.setPassword(System.getenv("DB_PASSWORD"));
    config.setMaximumPoolSize(clients);
    config.setConnectionTimeout(60000);
    String[] versions = new String[1];
    try (HikariDataSource ds = new HikariDataSource(config)) {
      pool[0] = ds;
      start.countDown();
      for (Thread t : threads) t.join();
      long elapsedMs = (System.nanoTime() - t0) / 1_000_000;
      versions[0] = String.valueOf(com.mysql.cj.jdbc.Driver.class.getPackage().getImplementationVersion());
      StringBuilder out = new StringBuilder("{\"client\":\"connector-j+hikaricp\",\"versions\":{\"Connector/J\":")
          .append(json(versions[0])).append(",\"HikariCP\":")
          .append(json(mavenVersion("com.zaxxer", "HikariCP")))
          .append("},\"elapsedMs\":").append(elapsedMs).append(",\"reads\":").append(reads).append(",\"wrongReads\":[");
      for (int i = 0; i < WRONG.size(); i++) out.append(i > 0 ? "," : "").append(json(WRONG.get(i)));
      out.append("],\"inserts\":[");
      for (int i = 0; i < INSERTS.size(); i++) {
        long[] r = INSERTS.get(i);
        out.append(i > 0 ? "," : "").append('[').append(r[0]).append(',').append(r[1]).append(',').append(r[2]).append(']');
      }
      out.append("],\"errors\":{");
      int n = 0;
      int count = 0;
      for (Map.Entry<String, Integer> e : ERRORS.entrySet()) {
        out.append(n++ > 0 ? "," : "").append(json(e.getKey())).append(':').append(e.getValue());
        count += e.getValue();
      }
      out.append("},\"errorCount\":").append(count).append('}');
      System.out.println(out);
    }
  }
}
