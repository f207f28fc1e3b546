// `rdsflow list`: Databases with phase, engine, endpoint, age and last message.
import { EXIT } from '../help.js';
import { listView } from '../format.js';
import type { Command } from './context.js';

export const list: Command = async ({ session, io, print }) => {
  const objects = await session.listObjects();
  print(
    listView(objects, io.now()),
    objects.map((o) => ({ metadata: o.metadata, spec: o.spec, status: o.status ?? {} })),
  );
  return EXIT.ok;
};
