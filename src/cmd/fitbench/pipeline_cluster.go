package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/localrabbit"
)

func init() { register("cluster", clusterStage) }

// clusterNodes is the size of the production cluster (a RabbitmqCluster
// with 3 replicas; the quorum queues keep a replica on each node).
const clusterNodes = 3

// clusterStage is the consumer stage on a three-node RabbitMQ cluster: the
// queue is filled through one node and drained by consumers given every
// node's address, into the same store, against InsertMany measured again
// in this stage.
func clusterStage(ctx context.Context, e *env) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	script, err := localrabbit.FindScript(wd)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "fitbench-cluster-")
	if err != nil {
		return fmt.Errorf("cluster stage: %w", err)
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	c, err := localrabbit.StartCluster(ctx, script, dir, localrabbit.ClusterOptions{Nodes: clusterNodes})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := c.Stop(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "stop rabbitmq cluster:", err)
		}
	}()
	urls := c.URLs()
	fmt.Printf("%d-node RabbitMQ cluster %v started in %v\n", clusterNodes, urls, time.Since(start).Round(time.Millisecond))
	ratio, err := persist(ctx, e, urls[0], amqpconn.Config{URLs: urls}, "fitbench_cluster")
	if err != nil {
		return err
	}
	fmt.Printf("persist ratio (%d-node cluster): %.2f\n", clusterNodes, ratio)
	return nil
}
