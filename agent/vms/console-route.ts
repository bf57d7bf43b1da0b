// GET /v1/vms/:namespace/:name/console on a node's agent API (same mutual TLS and allowed callers
// as the rest): the serial console log of a VMI running on that node, as text/plain; 404 when the
// VMI does not run here (the caller asks the node its status.nodeName names).
import type express from 'express';
import type { Request, Response } from 'express';

export const CONSOLE_ROUTE = '/v1/vms/:namespace/:name/console';

export function consoleRoute(lookup: (namespace: string, name: string) => Promise<string | undefined>): (app: express.Express) => void {
  return (app) => {
    app.get(CONSOLE_ROUTE, async (req: Request, res: Response) => {
      const namespace = String(req.params.namespace ?? '');
      const name = String(req.params.name ?? '');
      const text = await lookup(namespace, name);
      if (text === undefined) {
        res.status(404).json({ error: `VMI ${namespace}/${name} has no guest on this node`, reason: 'NotFound' });
        return;
      }
      res.status(200).type('text/plain').send(text);
    });
  };
}
