// The client-family workload with Go's database/sql and github.com/go-sql-driver/mysql (see
// test/dataplane/clients.ts): a sql.DB of WORKLOAD_CLIENTS open connections and as many goroutines
// at once, each holding one connection (db.Conn) for its WORKLOAD_STATEMENTS statements: statement s
// of worker w is an autocommit INSERT into workload_writes (tag, w, s) when s % 5 == 4 (its id from
// LastInsertId), else a read of workload_items by primary key ((w * statements + s) mod items) + 1,
// whose note must be note-<id>. The driver's defaults stand (placeholders as server-side prepared
// statements). The endpoint comes from DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME; prints one
// JSON line.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

type result struct {
	Client     string            `json:"client"`
	Versions   map[string]string `json:"versions"`
	ElapsedMs  int64             `json:"elapsedMs"`
	Reads      int               `json:"reads"`
	WrongReads []string          `json:"wrongReads"`
	Inserts    [][3]int64        `json:"inserts"`
	Errors     map[string]int    `json:"errors"`
	ErrorCount int               `json:"errorCount"`
}

func envInt(name string) int {
	v, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		panic(fmt.Sprintf("%s: %v", name, err))
	}
	return v
}

func main() {
	clients := envInt("WORKLOAD_CLIENTS")
	statements := envInt("WORKLOAD_STATEMENTS")
	items := envInt("WORKLOAD_ITEMS")
	tag := os.Getenv("WORKLOAD_TAG")
	cfg := mysql.NewConfig()
	cfg.User = os.Getenv("DB_USER")
	cfg.Passwd = os.Getenv("DB_PASSWORD")
	cfg.Net = "tcp"
	cfg.Addr = os.Getenv("DB_HOST") + ":" + os.Getenv("DB_PORT")
	cfg.DBName = os.Getenv("DB_NAME")
	cfg.Timeout = 60 * time.Second

	res := result{Client: "go-sql-driver", Versions: map[string]string{}, WrongReads: []string{}, Inserts: [][3]int64{}, Errors: map[string]int{}}
	if info, ok := debug.ReadBuildInfo(); ok {
		res.Versions["go"] = info.GoVersion
		for _, m := range info.Deps {
			if m.Path == "github.com/go-sql-driver/mysql" {
				res.Versions[m.Path] = m.Version
			}
		}
	}
	var mu sync.Mutex
	fail := func(err error) {
		key := err.Error()
		if len(key) > 160 {
			key = key[:160]
		}
		mu.Lock()
		res.Errors[key]++
		mu.Unlock()
	}

	t0 := time.Now()
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		panic(err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(clients)
	db.SetMaxIdleConns(clients)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			conn, err := db.Conn(ctx)
			if err != nil {
				fail(err)
				return
			}
			defer conn.Close()
			for s := 0; s < statements; s++ {
				if s%5 == 4 {
					r, err := conn.ExecContext(ctx, "INSERT INTO workload_writes (tag, worker, seq) VALUES (?, ?, ?)", tag, w, s)
					if err != nil {
						fail(err)
						continue
					}
					id, err := r.LastInsertId()
					if err != nil {
						fail(err)
						continue
					}
					mu.Lock()
					res.Inserts = append(res.Inserts, [3]int64{id, int64(w), int64(s)})
					mu.Unlock()
				} else {
					id := (w*statements+s)%items + 1
					rows, err := conn.QueryContext(ctx, "SELECT id, note FROM workload_items WHERE id = ?", id)
					if err != nil {
						fail(err)
						continue
					}
					got := []string{}
					for rows.Next() {
						var gotID int
						var note string
						if err := rows.Scan(&gotID, &note); err != nil {
							fail(err)
						}
						got = append(got, fmt.Sprintf("%d %s", gotID, note))
					}
					if err := rows.Err(); err != nil {
						fail(err)
					}
					rows.Close()
					mu.Lock()
					if len(got) == 1 && got[0] == fmt.Sprintf("%d note-%d", id, id) {
						res.Reads++
					} else {
						res.WrongReads = append(res.WrongReads, fmt.Sprintf("id %d: %v", id, got))
					}
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	res.ElapsedMs = time.Since(t0).Milliseconds()
	if err := db.Close(); err != nil {
		fail(err)
	}
	for _, n := range res.Errors {
		res.ErrorCount += n
	}
	out, err := json.Marshal(res)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(out))
}
