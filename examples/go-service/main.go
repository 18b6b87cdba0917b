// Command plate-demo is the example service that plate's README builds: a tiny HTTP server
// that fits in a FROM scratch image, plus a "fetch" subcommand that makes an HTTPS request
// with the system CA pool, to show why the image needs a CA bundle.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"runtime"
	"time"
)

var started = time.Now()

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintln(w, "ok")
}

func info(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"service": "plate-demo",
		"go":      runtime.Version(),
		"uid":     os.Getuid(),
		"uptime":  time.Since(started).Round(time.Millisecond).String(),
	})
}

func fetch(url string) error {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	fmt.Printf("%s %d bytes\n", resp.Status, n)
	return nil
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "fetch" {
		if err := fetch(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "fetch:", err)
			os.Exit(1)
		}
		return
	}
	addr := os.Getenv("LISTEN")
	if addr == "" {
		addr = ":8080"
	}
	http.HandleFunc("/healthz", healthz)
	http.HandleFunc("/", info)
	log.Printf("plate-demo listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
