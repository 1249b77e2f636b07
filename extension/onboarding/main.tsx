import { render } from 'preact';
import '../common/page.css';
import './onboarding.css';
import { t } from '../common/i18n.js';
import { Onboarding } from './Onboarding.js';

document.title = t('onboarding_document_title');
render(<Onboarding />, document.getElementById('app')!);
