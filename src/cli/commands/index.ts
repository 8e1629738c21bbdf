import type { Command } from '../command';
import { dbCommands } from './db';
import { srmCommands } from './srm';
import { tokensCreateCommands } from './tokensCreate';
import { tokensManageCommands } from './tokensManage';
import { viewsCommands } from './views';

/** Every `lrt` command. Each area keeps its commands in its own file and adds them here. */
export const commands: Command[] = [
  ...dbCommands,
  ...srmCommands,
  ...tokensCreateCommands,
  ...tokensManageCommands,
  ...viewsCommands,
];
