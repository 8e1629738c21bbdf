import type { Command } from '../command';
import { cacheCommands } from './cache';
import { dbCommands } from './db';
import { demoCommands } from './demo';
import { doctorCommands } from './doctor';
import { jobsCommands } from './jobs';
import { pilotCommands } from './pilot';
import { sandboxCommands } from './sandbox';
import { serveCommands } from './serve';
import { srmCommands } from './srm';
import { srmStateCommands } from './srmState';
import { stageCommands } from './stage';
import { statusCommands } from './status';
import { submitCommands } from './submit';
import { tokensCreateCommands } from './tokensCreate';
import { tokensManageCommands } from './tokensManage';
import { tokensUpdateCommands } from './tokensUpdate';
import { viewsCommands } from './views';

/** Every `lrt` command. Each area keeps its commands in its own file and adds them here. */
export const commands: Command[] = [
  ...cacheCommands,
  ...dbCommands,
  ...demoCommands,
  ...doctorCommands,
  ...jobsCommands,
  ...pilotCommands,
  ...sandboxCommands,
  ...serveCommands,
  ...srmCommands,
  ...srmStateCommands,
  ...stageCommands,
  ...statusCommands,
  ...submitCommands,
  ...tokensCreateCommands,
  ...tokensManageCommands,
  ...tokensUpdateCommands,
  ...viewsCommands,
];
