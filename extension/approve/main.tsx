import { render } from 'preact';
import '../common/page.css';
import { ApprovalQueue } from './ApprovalQueue.js';

render(<ApprovalQueue />, document.getElementById('app')!);
