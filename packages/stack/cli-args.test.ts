import { describe, expect, test } from 'vitest';
import { parseArgs, UsageError } from './cli-args.ts';

describe('parley-stack arguments', () => {
	test('commands, the db-reset alias and the default', () => {
		expect(parseArgs([], '/p')).toEqual({ command: 'start', workdir: '/p' });
		expect(parseArgs(['status'], '/p').command).toBe('status');
		expect(parseArgs(['db', 'reset'], '/p').command).toBe('db reset');
		expect(parseArgs(['db-reset'], '/p').command).toBe('db reset');
		expect(parseArgs(['start', '--help'], '/p').command).toBe('help');
	});

	test('--workdir, relative to the current folder, in either spelling', () => {
		expect(parseArgs(['start', '--workdir', 'shop'], '/p').workdir).toBe('/p/shop');
		expect(parseArgs(['--workdir=/abs', 'status'], '/p')).toEqual({ command: 'status', workdir: '/abs' });
	});

	test('mistakes are usage errors', () => {
		expect(() => parseArgs(['stop'])).toThrow(
			new UsageError('unknown command "stop": use start, status or db reset')
		);
		expect(() => parseArgs(['db'])).toThrow(UsageError);
		expect(() => parseArgs(['--port', '1'])).toThrow('unknown option "--port"');
		expect(() => parseArgs(['--workdir'])).toThrow('--workdir needs a folder');
	});
});
