package localpath

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Volumes is the stand-in running in the background.
type Volumes struct {
	// Class is the StorageClass it provisions.
	Class  string
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	claims []string
}

// Start installs the StorageClass named class and provisions its claims
// until Stop.
func Start(ctx context.Context, c client.Client, class string, log *slog.Logger) (*Volumes, error) {
	if err := Install(ctx, c, class); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	v := &Volumes{Class: class, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(v.done)
		if err := Run(ctx, c, class, log, v.add); err != nil {
			log.Warn("local-path stand-in stopped", "err", err)
		}
	}()
	return v, nil
}

func (v *Volumes) add(claim string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.claims = append(v.claims, claim)
}

// Provisioned lists the claims provisioned so far, "namespace/name@node".
func (v *Volumes) Provisioned() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.claims)
}

// Stop ends the provisioning and waits for it.
func (v *Volumes) Stop() {
	v.cancel()
	<-v.done
}
