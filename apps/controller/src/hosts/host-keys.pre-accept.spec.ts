import { describeHostKeyPreAcceptContract } from './host-keys.pre-accept.contract';
import { openSqliteHostKeys } from './host-keys.fixtures';

describeHostKeyPreAcceptContract('SqliteHostKeyRepository', openSqliteHostKeys);
