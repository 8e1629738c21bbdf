import type { Command } from '../command';
import { dbCommands } from './db';
import { srmCommands } from './srm';

/** Every `lrt` command. Each area keeps its commands in its own file and adds them here. */
export const commands: Command[] = [...dbCommands, ...srmCommands];
