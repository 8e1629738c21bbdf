import type http from 'node:http';
import { type NodeAddress, type NodeReply, type NodeRequest, requestNode } from './nodeHttp';

/**
 * Sends one write to every node, each copy after its own random delay in [0, jitterMs]: two
 * writers racing through different coordinators then reach the replicas in different orders, as
 * on a real network. Like CouchDB's fabric, the coordinator need not wait for the slowest replica:
 * the promise settles as soon as `decided` says the answer cannot change any more (every document
 * met its quorum), or when every node has answered; later copies still land, in the background.
 */
export class FanOut {
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly agent: http.Agent,
    private readonly jitterMs: number,
  ) {}

  /** Replies in node order; a node that has not answered yet when `decided` fired is left out. */
  send(
    nodes: NodeAddress[],
    request: NodeRequest,
    decided: (replies: NodeReply[]) => boolean = () => false,
  ): Promise<NodeReply[]> {
    return new Promise((resolve) => {
      const replies: (NodeReply | undefined)[] = nodes.map(() => undefined);
      let answered = 0;
      let settled = false;
      const received = () => replies.filter((reply): reply is NodeReply => reply !== undefined);
      for (const [index, node] of nodes.entries()) {
        const copy = this.afterJitter()
          .then(() => requestNode(this.agent, node, request))
          .then((reply) => {
            replies[index] = reply;
            answered += 1;
            if (settled) return;
            if (answered === nodes.length || decided(received())) {
              settled = true;
              resolve(received());
            }
          });
        this.inFlight.add(copy);
        void copy.finally(() => this.inFlight.delete(copy));
      }
    });
  }

  /** Waits for the copies still travelling after their coordinator answered. */
  async drain(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private afterJitter(): Promise<void> {
    if (this.jitterMs <= 0) return Promise.resolve();
    return new Promise((resolve) => setTimeout(resolve, Math.random() * this.jitterMs));
  }
}
