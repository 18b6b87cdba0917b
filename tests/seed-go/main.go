// The seed's service, reduced to what a test can check: it proves it runs and that the CA
// bundle the Dockerfile copies from the builder is where net/http looks for it.
package main

import (
	"fmt"
	"os"
)

func main() {
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err != nil {
		fmt.Println("no CA bundle:", err)
		os.Exit(1)
	}
	fmt.Println("my-awesome-service: hello")
}
